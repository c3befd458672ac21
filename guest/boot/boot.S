/*
 * PVH entry and the switch to long mode.
 *
 * QEMU's -kernel loader finds the Xen ELF note of type 18
 * (XEN_ELFNOTE_PHYS32_ENTRY) below and enters pvh_start32 in 32-bit
 * protected mode, paging off, flat segments, with %ebx = physical address
 * of the hvm_start_info (memory map, command line).
 *
 *   pvh_start32 (32-bit)                 long_entry (64-bit)
 *   ---------------------                -------------------
 *   keep %ebx (start info)               reload data segments
 *   zero .bss                            stack = boot_stack_top
 *   identity map 0..4 GiB, 2 MiB pages   idt_init(): all 256 gates
 *     PML4[0] -> PDPT[0..3] -> 4 PDs     run .init_array constructors
 *   CR4 = PAE | OSFXSR | OSXMMEXCPT      guest_main(start_info)
 *   EFER.LME                             halt if it ever returns
 *   CR0 = PG | PE | MP, EM off
 *   lgdt, far jump to 64-bit code
 *
 * SSE is usable from the first C++ instruction on: clang and the driver
 * archive both emit SSE code.
 *
 * The page tables live in .bss and are shared with kernel/paging.cc,
 * which maps 64-bit BARs above 4 GiB on demand. The IDT, its entry stubs
 * and the exception report are kernel/idt.cc and boot/interrupts.S;
 * interrupts stay disabled (IF = 0) from here on (kernel/cpu.h).
 */

#define CR0_PE 0x00000001
#define CR0_MP 0x00000002
#define CR0_EM 0x00000004
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define CR4_OSFXSR 0x00000200
#define CR4_OSXMMEXCPT 0x00000400
#define MSR_EFER 0xC0000080
#define EFER_LME 0x00000100
#define PTE_P 0x001
#define PTE_RW 0x002
#define PTE_PS 0x080

/* Xen PVH note: QEMU reads an address-sized entry point from its desc. */
        .section .note.Xen, "a", @note
        .balign 4
        .long 4                 /* namesz: "Xen\0" */
        .long 8                 /* descsz */
        .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
        .asciz "Xen"
        .balign 4
        .quad pvh_start32
        .balign 4

        .section .text.boot, "ax"
        .code32
        .global pvh_start32
pvh_start32:
        cli
        cld
        mov     %ebx, %esi

        /* Zero .bss (page tables and stack included). */
        mov     $__bss_start, %edi
        mov     $__bss_end, %ecx
        sub     %edi, %ecx
        xor     %eax, %eax
        rep stosb
        mov     %esi, boot_start_info
        mov     $boot_stack_top, %esp

        /* 4 page directories of 512 entries: 2048 x 2 MiB = 4 GiB. */
        mov     $boot_pd, %edi
        xor     %ecx, %ecx
1:      mov     %ecx, %eax
        shl     $21, %eax
        or      $(PTE_P | PTE_RW | PTE_PS), %eax
        mov     %eax, (%edi, %ecx, 8)
        movl    $0, 4(%edi, %ecx, 8)
        inc     %ecx
        cmp     $2048, %ecx
        jb      1b

        /* PDPT[0..3] -> the four page directories. */
        mov     $boot_pdpt, %edi
        mov     $boot_pd, %eax
        or      $(PTE_P | PTE_RW), %eax
        xor     %ecx, %ecx
2:      mov     %eax, (%edi, %ecx, 8)
        movl    $0, 4(%edi, %ecx, 8)
        add     $4096, %eax
        inc     %ecx
        cmp     $4, %ecx
        jb      2b

        /* PML4[0] -> PDPT. */
        mov     $boot_pdpt, %eax
        or      $(PTE_P | PTE_RW), %eax
        mov     %eax, boot_pml4
        movl    $0, boot_pml4 + 4

        mov     $boot_pml4, %eax
        mov     %eax, %cr3

        mov     %cr4, %eax
        or      $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
        mov     %eax, %cr4

        mov     $MSR_EFER, %ecx
        rdmsr
        or      $EFER_LME, %eax
        wrmsr

        mov     %cr0, %eax
        and     $~CR0_EM, %eax
        or      $(CR0_PG | CR0_PE | CR0_MP), %eax
        mov     %eax, %cr0

        lgdt    boot_gdt_ptr
        ljmp    $0x08, $long_entry

        .code64
long_entry:
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        xor     %ax, %ax
        mov     %ax, %fs
        mov     %ax, %gs
        lea     boot_stack_top(%rip), %rsp
        xor     %ebp, %ebp
        fninit

        call    idt_init

        /* Constructors (none expected, but honoured). */
        lea     __init_array_start(%rip), %rbx
3:      lea     __init_array_end(%rip), %rax
        cmp     %rax, %rbx
        jae     4f
        call    *(%rbx)
        add     $8, %rbx
        jmp     3b

4:      mov     boot_start_info(%rip), %edi
        call    guest_main
5:      cli
        hlt
        jmp     5b

        .section .data
        .balign 16
boot_gdt:
        .quad 0                         /* null */
        .quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
        .quad 0x00cf92000000ffff        /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
        .word boot_gdt_end - boot_gdt - 1
        .long boot_gdt
        .balign 16
        .balign 8
        .global boot_start_info
boot_start_info:
        .long 0

        .section .bss
        .balign 4096
        .global boot_pml4, boot_pdpt, boot_pd
boot_pml4:
        .skip 4096
boot_pdpt:
        .skip 4096
boot_pd:
        .skip 4 * 4096
        .balign 16
boot_stack:
        .skip 128 * 1024
boot_stack_top:

        .section .note.GNU-stack, "", @progbits
