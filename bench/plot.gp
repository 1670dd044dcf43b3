# SPDX-License-Identifier: Apache-2.0
# Convergence time against N: ovsec-monitor, upstream's ovs-monitor-ipsec
# and the floor, with strongSwan's charon (solid) and Libreswan's pluto
# (dashed), medians with min..max bars.  A daemon that was not measured has
# only NaN columns; gnuplot skips its lines with a warning.
# Usage: gnuplot -e "datafile='D'; outfile='O'" bench/plot.gp
set terminal pngcairo size 1000,650 noenhanced font ",11"
set output outfile
set title "Time from one OVSDB transaction adding N tunnels until the IKE daemon holds all"
set xlabel "N (geneve PSK tunnels)"
set ylabel "seconds (log scale)"
set logscale xy
set grid
set key top left
set xrange [8:2600]
set xtics (10, 100, 1000, 2000)
plot datafile using 1:2:3:4 with yerrorlines lw 2 lc 1 title "ovsec-monitor, strongSwan", \
     datafile using 1:5:6:7 with yerrorlines lw 2 lc 2 title "ovs-monitor-ipsec (upstream), strongSwan", \
     datafile using 1:8:9:10 with yerrorlines lw 1 lc 3 title "floor: swanctl --load-all", \
     datafile using 1:11:12:13 with yerrorlines lw 2 lc 1 dt 2 title "ovsec-monitor, Libreswan", \
     datafile using 1:14:15:16 with yerrorlines lw 2 lc 2 dt 2 title "ovs-monitor-ipsec (upstream), Libreswan", \
     datafile using 1:17:18:19 with yerrorlines lw 1 lc 3 dt 2 title "floor: ipsec addconn --autoall"
