/*
 * The 256 interrupt entry stubs and their common paths (the gates that
 * point here are built by kernel/idt.cc).
 *
 *   stub N:  push 0 unless the CPU pushed an error code (vectors 8, 10-14,
 *            17, 21, 29, 30), push N, jump to isr_common
 *
 *   isr_common, vector < 32 (CPU exception): never returns
 *     rdi = the frame {vector, error, rip, cs, rflags, rsp, ss}
 *     call guest_exception (kernel/exit.cc: prints vector, error code,
 *     RIP, RSP, CR2, exits with the panic status)
 *
 *   isr_common, vector >= 32 (interrupt): returns with iretq
 *     save the System V caller-saved registers: rax rcx rdx rsi rdi
 *     r8-r11, and the whole x87/SSE state (fxsave64: C++ code and the
 *     driver use xmm registers, which are all caller-saved)
 *     DF = 0 (the ABI's requirement at a call)
 *     rdi = vector; call guest_interrupt (kernel/idt.cc: handler, EOI)
 *     restore, drop vector and error code, iretq
 *
 * Stack: in 64-bit mode the CPU aligns RSP to 16 bytes before it pushes
 * ss, rsp, rflags, cs, rip (40 bytes); with the error code and vector
 * that is 56 bytes, 9 saved registers make 128, rbp 136; the fxsave area
 * is then carved out 16-byte aligned, as fxsave64 and the ABI want.
 *
 * The gates are interrupt gates: IF = 0 while any of this runs, so
 * handlers never nest.
 */

        .section .text
        .code64

/*
 * Stub N sits at isr_stubs + 16 * N. Every instruction has a fixed
 * encoding (push imm32, jmp rel32) so that no stub outgrows its 16 bytes,
 * whatever the assembler would relax; kernel/idt.cc checks the total.
 */
        .balign 16
        .global isr_stubs, isr_stubs_end
isr_stubs:
        .set    vec, 0
        .rept   256
        .balign 16, 0xcc
.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
.else
        .byte   0x6a, 0x00              /* pushq $0: no error code from the CPU */
.endif
        .byte   0x68                    /* pushq $vec (imm32) */
        .long   vec
        .byte   0xe9                    /* jmp isr_common (rel32) */
        .long   isr_common - . - 4
        .set    vec, vec + 1
        .endr
        .balign 16, 0xcc
isr_stubs_end:

        .balign 16
isr_common:
        cmpq    $32, (%rsp)
        jb      isr_exception

        pushq   %rax
        pushq   %rcx
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        pushq   %rbp
        mov     %rsp, %rbp
        sub     $512, %rsp
        and     $~0xf, %rsp
        fxsave64 (%rsp)
        cld
        mov     80(%rbp), %rdi          /* the vector, above rbp and 9 registers */
        call    guest_interrupt
        fxrstor64 (%rsp)
        mov     %rbp, %rsp
        popq    %rbp
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rdi
        popq    %rsi
        popq    %rdx
        popq    %rcx
        popq    %rax
        add     $16, %rsp               /* vector and error code */
        iretq

isr_exception:
        /* Stack: vector, error, rip, cs, rflags, rsp, ss. */
        mov     %rsp, %rdi
        and     $~0xf, %rsp
        cld
        call    guest_exception
1:      cli
        hlt
        jmp     1b

        .section .note.GNU-stack, "", @progbits
