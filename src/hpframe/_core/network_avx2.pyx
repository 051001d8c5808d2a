# The same network (network.pyx, included whole), compiled with AVX2 for the
# CPUs that have it: the elementwise loops and the optimizer's update then work
# on 8 floats at a time instead of 4. setup.py builds it with -mavx2 and
# -ffp-contract=off (no fused multiply-adds), so it computes exactly what the
# portable build computes, bit for bit - only faster. hpframe._core.Network is
# this module's class when the CPU has AVX2, the portable one otherwise.
include "network.pyx"
