# SPDX-License-Identifier: Apache-2.0
# Convergence time against N: ovsec-monitor, upstream's ovs-monitor-ipsec
# and the floor (swanctl --load-all), medians with min..max bars.
# Usage: gnuplot -e "datafile='D'; outfile='O'" bench/plot.gp
set terminal pngcairo size 900,600 noenhanced font ",11"
set output outfile
set title "Time from one OVSDB transaction adding N tunnels until charon holds all"
set xlabel "N (geneve PSK tunnels)"
set ylabel "seconds (log scale)"
set logscale xy
set grid
set key top left
set xrange [8:2600]
set xtics (10, 100, 1000, 2000)
plot datafile using 1:2:3:4 with yerrorlines lw 2 title "ovsec-monitor", \
     datafile using 1:5:6:7 with yerrorlines lw 2 title "ovs-monitor-ipsec (upstream, strongSwan)", \
     datafile using 1:8:9:10 with yerrorlines lw 2 dt 2 title "floor: swanctl --load-all"
