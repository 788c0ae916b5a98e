#!/bin/bash
# Bridge namespace hab with veths to has1, has2, hac (client). 198.18.0.0/24.
set -e
T=$1   # tag
ip netns add hab$T; ip netns add has1$T; ip netns add has2$T; ip netns add hac$T
for n in hab$T has1$T has2$T hac$T; do ip -n $n link set lo up; done
ip -n hab$T link add br0 type bridge; ip -n hab$T link set br0 up
for n in has1 has2 hac; do
  ip link add v$n$T type veth peer name e$n$T
  ip link set v$n$T netns hab$T; ip link set e$n$T netns $n$T
  ip -n hab$T link set v$n$T master br0; ip -n hab$T link set v$n$T up
  ip -n $n$T link set e$n$T name eth0; ip -n $n$T link set eth0 up
done
ip -n has1$T addr add 198.18.0.1/24 dev eth0
ip -n has2$T addr add 198.18.0.2/24 dev eth0
