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
 *   identity map 0..4 GiB, 2 MiB pages   install the exception IDT
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
 * which maps 64-bit BARs above 4 GiB on demand.
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

        call    idt_install

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

/* ---- exceptions: vectors 0..31 print a report and exit ---- */

/* Vectors that push an error code: 8, 10-14, 17, 21, 29, 30. */
.macro EXC_NOERR n
exc_\n:
        pushq   $0
        pushq   $\n
        jmp     exc_common
.endm
.macro EXC_ERR n
exc_\n:
        pushq   $\n
        jmp     exc_common
.endm

EXC_NOERR 0
EXC_NOERR 1
EXC_NOERR 2
EXC_NOERR 3
EXC_NOERR 4
EXC_NOERR 5
EXC_NOERR 6
EXC_NOERR 7
EXC_ERR 8
EXC_NOERR 9
EXC_ERR 10
EXC_ERR 11
EXC_ERR 12
EXC_ERR 13
EXC_ERR 14
EXC_NOERR 15
EXC_NOERR 16
EXC_ERR 17
EXC_NOERR 18
EXC_NOERR 19
EXC_NOERR 20
EXC_ERR 21
EXC_NOERR 22
EXC_NOERR 23
EXC_NOERR 24
EXC_NOERR 25
EXC_NOERR 26
EXC_NOERR 27
EXC_NOERR 28
EXC_ERR 29
EXC_ERR 30
EXC_NOERR 31

exc_common:
        /* Stack: vector, error, rip, cs, rflags, rsp, ss. */
        mov     %rsp, %rdi
        and     $~0xf, %rsp
        call    guest_exception
6:      cli
        hlt
        jmp     6b

/* Builds the 32 interrupt gates (64-bit, present, DPL 0, selector 0x08). */
idt_install:
        lea     boot_idt(%rip), %rdi
        lea     exc_handlers(%rip), %rsi
        xor     %ecx, %ecx
7:      mov     (%rsi, %rcx, 8), %rax
        mov     %ax, (%rdi)             /* offset 15:0 */
        movw    $0x08, 2(%rdi)          /* selector */
        movw    $0x8e00, 4(%rdi)        /* present, interrupt gate */
        shr     $16, %rax
        mov     %ax, 6(%rdi)            /* offset 31:16 */
        shr     $16, %rax
        mov     %eax, 8(%rdi)           /* offset 63:32 */
        movl    $0, 12(%rdi)
        add     $16, %rdi
        inc     %ecx
        cmp     $32, %ecx
        jb      7b
        lidt    boot_idt_ptr(%rip)
        ret

        .section .rodata
        .balign 8
exc_handlers:
        .quad exc_0, exc_1, exc_2, exc_3, exc_4, exc_5, exc_6, exc_7
        .quad exc_8, exc_9, exc_10, exc_11, exc_12, exc_13, exc_14, exc_15
        .quad exc_16, exc_17, exc_18, exc_19, exc_20, exc_21, exc_22, exc_23
        .quad exc_24, exc_25, exc_26, exc_27, exc_28, exc_29, exc_30, exc_31

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
boot_idt_ptr:
        .word 32 * 16 - 1
        .quad boot_idt
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
boot_idt:
        .skip 32 * 16
        .balign 16
boot_stack:
        .skip 128 * 1024
boot_stack_top:

        .section .note.GNU-stack, "", @progbits
