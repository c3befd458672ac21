// Identity paging, 2 MiB pages.
//
// boot.S maps 0..4 GiB write-back before long mode:
//
//   CR3 -> boot_pml4[0] -> boot_pdpt[0..3] -> boot_pd (4 x 512 PDEs)
//                                             PDE i = i * 2 MiB | P RW PS
//
// map_identity() extends the map on demand (64-bit BARs and RAM above
// 4 GiB: new PDPTs and page directories come from a static pool) and marks
// device memory uncached (PCD | PWT), which also covers BARs in the PCI
// hole below 4 GiB.
#pragma once

#include <stdint.h>

namespace guest::paging {

// Identity-maps [addr, addr + size), rounded out to 2 MiB. Returns false
// when the address is beyond 48 bits or the table pool is exhausted.
bool map_identity(uint64_t addr, uint64_t size, bool uncached);

}  // namespace guest::paging
