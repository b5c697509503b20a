#!/usr/bin/env python3
"""Writes the hwloc 2 XML test topologies of a GPU server (run from tests/data/).

The machine: 2 packages (one NUMA node each, 512 GiB), 8 cores x 2 PUs per package, Linux PU
numbering (core c of package p: PUs 8p+c and 16+8p+c). Each package has one host bridge with
four PCIe switches; switch k of package p holds GPU 4p+k (H100 SXM, class 0302) and NIC 4p+k
(ConnectX-7, class 0207, OS devices ibpNs0 + mlx5_N). Package 0 also has a management Ethernet
port (eno1) behind its own host bridge.

gpu-server-2s-8gpu-8nic.xml      GPUs carry CUDA and NVML OS devices (hwloc built with both).
gpu-server-2s-8gpu-8nic-pci.xml  GPUs are bare PCI devices (Debian's hwloc: no CUDA/NVML plugin).

The files are the test data; this script only documents and reproduces them.
"""

GIB = 1 << 30
PACKAGES, CORES, SMT = 2, 8, 2
PUS = PACKAGES * CORES * SMT
GPU_BUS = [0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB]


def mask(pus):
    v = 0
    for p in pus:
        v |= 1 << p
    return "0x%08x" % v


class W:
    def __init__(self):
        self.lines = []
        self.gp = 0

    def gpi(self):
        self.gp += 1
        return self.gp

    def add(self, depth, s):
        self.lines.append("  " * depth + s)


def cpu_attrs(pus, nodes):
    m, n = mask(pus), mask(nodes)
    return f'cpuset="{m}" complete_cpuset="{m}" nodeset="{n}" complete_nodeset="{n}"'


def write(path, gpu_osdevs):
    w = W()
    w.add(0, '<?xml version="1.0" encoding="UTF-8"?>')
    w.add(0, '<!DOCTYPE topology SYSTEM "hwloc2.dtd">')
    w.add(0, '<topology version="2.0">')
    allpus = range(PUS)
    m = mask(allpus)
    w.add(1, f'<object type="Machine" os_index="0" cpuset="{m}" complete_cpuset="{m}" '
          f'allowed_cpuset="{m}" nodeset="0x00000003" complete_nodeset="0x00000003" '
          f'allowed_nodeset="0x00000003" gp_index="{w.gpi()}">')
    for k, v in [("Backend", "Linux"), ("OSName", "Linux"), ("HostName", "gpu-server-xml"),
                 ("Architecture", "x86_64"), ("hwlocVersion", "2.9.0")]:
        w.add(2, f'<info name="{k}" value="{v}"/>')
    for p in range(PACKAGES):
        cores = [(p * CORES + c) for c in range(CORES)]
        pus = [pu for c in cores for pu in (c, PACKAGES * CORES + c)]
        w.add(2, f'<object type="Package" os_index="{p}" {cpu_attrs(pus, [p])} gp_index="{w.gpi()}">')
        w.add(3, '<info name="CPUVendor" value="GenuineIntel"/>')
        w.add(3, '<info name="CPUModel" value="Intel(R) Xeon(R) Platinum 8480+"/>')
        w.add(3, f'<object type="NUMANode" os_index="{p}" {cpu_attrs(pus, [p])} '
              f'gp_index="{w.gpi()}" local_memory="{512 * GIB}">')
        w.add(4, f'<page_type size="4096" count="{512 * GIB // 4096}"/>')
        w.add(3, '</object>')
        w.add(3, f'<object type="L3Cache" os_index="{p}" {cpu_attrs(pus, [p])} gp_index="{w.gpi()}" '
              'cache_size="110100480" depth="3" cache_linesize="64" cache_associativity="15" '
              'cache_type="0">')
        for c in cores:
            cp = [c, PACKAGES * CORES + c]
            w.add(4, f'<object type="L2Cache" os_index="{c}" {cpu_attrs(cp, [p])} gp_index="{w.gpi()}" '
                  'cache_size="2097152" depth="2" cache_linesize="64" cache_associativity="16" '
                  'cache_type="0">')
            w.add(5, f'<object type="L1Cache" os_index="{c}" {cpu_attrs(cp, [p])} gp_index="{w.gpi()}" '
                  'cache_size="49152" depth="1" cache_linesize="64" cache_associativity="12" '
                  'cache_type="1">')
            w.add(6, f'<object type="L1iCache" os_index="{c}" {cpu_attrs(cp, [p])} gp_index="{w.gpi()}" '
                  'cache_size="32768" depth="1" cache_linesize="64" cache_associativity="8" '
                  'cache_type="2">')
            w.add(7, f'<object type="Core" os_index="{c}" {cpu_attrs(cp, [p])} gp_index="{w.gpi()}">')
            for pu in cp:
                w.add(8, f'<object type="PU" os_index="{pu}" {cpu_attrs([pu], [p])} gp_index="{w.gpi()}"/>')
            w.add(7, '</object>')
            w.add(6, '</object>')
            w.add(5, '</object>')
            w.add(4, '</object>')
        w.add(3, '</object>')
        # I/O: one host bridge per package, four PCIe switches below it.
        first, last = GPU_BUS[4 * p] - 2, GPU_BUS[4 * p + 3] + 3
        w.add(3, f'<object type="Bridge" gp_index="{w.gpi()}" bridge_type="0-1" depth="0" '
              f'bridge_pci="0000:[{first:02x}-{last:02x}]">')
        for k in range(4):
            g = 4 * p + k
            bus = GPU_BUS[g]
            up = bus - 1
            w.add(4, f'<object type="Bridge" gp_index="{w.gpi()}" bridge_type="1-1" depth="1" '
                  f'bridge_pci="0000:[{up + 1:02x}-{bus + 1:02x}]" pci_busid="0000:{up:02x}:00.0" '
                  'pci_type="0604 [1000:c030] [1000:a064] b0" pci_link_speed="31.507692">')
            # GPU
            w.add(5, f'<object type="PCIDev" gp_index="{w.gpi()}" pci_busid="0000:{bus:02x}:00.0" '
                  'pci_type="0302 [10de:2330] [10de:16c1] a1" pci_link_speed="63.015385"' +
                  ('>' if gpu_osdevs else '/>'))
            if gpu_osdevs:
                w.add(6, f'<object type="OSDev" gp_index="{w.gpi()}" name="cuda{g}" '
                      'subtype="CUDA" osdev_type="5">')
                for kk, vv in [("Backend", "CUDA"), ("GPUVendor", "NVIDIA Corporation"),
                               ("GPUModel", "NVIDIA H100 80GB HBM3"),
                               ("CUDAGlobalMemorySize", "81559" + "552"),
                               ("CUDAMultiProcessors", "132")]:
                    w.add(7, f'<info name="{kk}" value="{vv}"/>')
                w.add(6, '</object>')
                w.add(6, f'<object type="OSDev" gp_index="{w.gpi()}" name="nvml{g}" '
                      'subtype="NVML" osdev_type="1">')
                for kk, vv in [("Backend", "NVML"), ("GPUVendor", "NVIDIA Corporation"),
                               ("GPUModel", "NVIDIA H100 80GB HBM3"),
                               ("NVIDIAUUID", "GPU-00000000-0000-0000-0000-00000000000%d" % g)]:
                    w.add(7, f'<info name="{kk}" value="{vv}"/>')
                w.add(6, '</object>')
                w.add(5, '</object>')
            # NIC
            nb = bus + 1
            w.add(5, f'<object type="PCIDev" gp_index="{w.gpi()}" pci_busid="0000:{nb:02x}:00.0" '
                  'pci_type="0207 [15b3:1021] [15b3:0041] 00" pci_link_speed="63.015385">')
            w.add(6, f'<object type="OSDev" gp_index="{w.gpi()}" name="ibp{nb}s0" osdev_type="2">')
            w.add(7, f'<info name="Address" value="00:00:10:29:fe:80:00:00:00:00:00:00:a0:88:c2:03:00:00:00:{g:02x}"/>')
            w.add(7, '<info name="Port" value="1"/>')
            w.add(6, '</object>')
            w.add(6, f'<object type="OSDev" gp_index="{w.gpi()}" name="mlx5_{g}" osdev_type="3">')
            w.add(7, f'<info name="NodeGUID" value="a088:c203:0000:00{g:02x}"/>')
            w.add(7, '<info name="Port1State" value="4"/>')
            w.add(7, f'<info name="Port1LID" value="0x{0x10 + g:x}"/>')
            w.add(6, '</object>')
            w.add(5, '</object>')
            w.add(4, '</object>')
        w.add(3, '</object>')
        if p == 0:
            w.add(3, f'<object type="Bridge" gp_index="{w.gpi()}" bridge_type="0-1" depth="0" '
                  'bridge_pci="0000:[02-02]">')
            w.add(4, f'<object type="PCIDev" gp_index="{w.gpi()}" pci_busid="0000:02:00.0" '
                  'pci_type="0200 [8086:1572] [8086:0006] 02" pci_link_speed="7.876923">')
            w.add(5, f'<object type="OSDev" gp_index="{w.gpi()}" name="eno1" osdev_type="2">')
            w.add(6, '<info name="Address" value="3c:fd:fe:00:00:01"/>')
            w.add(5, '</object>')
            w.add(4, '</object>')
            w.add(3, '</object>')
        w.add(2, '</object>')
    w.add(1, '</object>')
    w.add(0, '</topology>')
    with open(path, "w") as f:
        f.write("\n".join(w.lines) + "\n")


if __name__ == "__main__":
    write("gpu-server-2s-8gpu-8nic.xml", True)
    write("gpu-server-2s-8gpu-8nic-pci.xml", False)
