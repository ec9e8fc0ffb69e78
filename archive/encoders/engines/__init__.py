"""Engines that run the e5 network: which one this machine has, and the fast ones themselves.

:mod:`.select` decides (``ARCHIVE_ENGINE`` / ``--engine``, else what the machine
supports); :mod:`.openvino_e5` runs the network on the CPU's matrix units or int8
dot products; :mod:`.torch_e5` on a CUDA GPU. The portable engine is the numpy
forward pass of :mod:`archive.encoders.e5_model`. Every engine computes the same
vectors to within the agreement docs/performance.md reports, so an index or an
embedding cache written by one is read by every other.
"""
