"""Layer 3, kernel: talking to the Linux kernel inside network namespaces.

Namespace files, netlink batches, configuration, reading state, the ping matrix,
processes, and the kernel's own route lookups.  Imports only from ``core`` and
``model``.  Nothing is imported here, so that ``nslab_kernel.kernel.procs`` loads
without pyroute2.
"""
