# RISC-V conformance probe: runs in M-mode on QEMU's `virt` machine (-bios none) and performs the
# queries the harness loaded at QBASE through satp, one by one, reporting each over the UART.
# Assembled twice by the harness: --defsym XLEN=64 (Sv39/48/57) and --defsym XLEN=32 (Sv32).
#
# Loads and stores are made in S- or U-mode by mstatus.MPRV with MPP; fetches by an MRET to the
# address in S- or U-mode, where the harness placed an ECALL. Every trap comes back to M-mode
# (nothing is delegated); the handler records mcause and mtval and resumes after the access.
#
# Query block at QBASE (little-endian 64-bit words): [0] count, [1] satp, then 64-byte records:
#   [0] va  [1] control: bits 1:0 access (0 load, 1 store, 2 fetch), bit 2 user mode (else
#   supervisor), bit 3 SUM, bit 4 MXR, bits 11:8 k  [2..2+k] physical addresses of the k entries
#   the walk reads (their values are reported after the access, then restored)  [7] for a
#   store, where pagelab says it lands (0 if nowhere).
# Data pages hold 8-byte words: low half ECALL, high half (physical address of the word) >> 3.
# Loads and stores use va (= 4 mod 8): the 4-byte value names the physical address reached.
# A store writes MARK; the probe then looks for it at the physical address the harness expects
# (record word 7) and restores the word there.
# Output, per query: "Q cause tval value e0 .. ek-1" in hex; cause is all ones on success.

        .option norvc
        .equ QBASE, 0x80100000
        .equ UART, 0x10000000
        .equ TESTDEV, 0x100000
        .equ MARK, 0x5eed5eed
        .equ MPRV, 1 << 17
        .equ SUM, 1 << 18
        .equ MXR, 1 << 19
        .equ MPP_MASK, 3 << 11
        .equ MPP_S, 1 << 11

.if XLEN == 64
        .equ XB, 8
        .macro LX rd, off, base
        ld \rd, \off(\base)
        .endm
        .macro SX rs, off, base
        sd \rs, \off(\base)
        .endm
.else
        .equ XB, 4
        .macro LX rd, off, base
        lw \rd, \off(\base)
        .endm
        .macro SX rs, off, base
        sw \rs, \off(\base)
        .endm
.endif

        .section .text
        .globl _start
_start:
        la sp, stack_top
        la t0, trap
        csrw mtvec, t0
        # PMP: one entry granting everything, so S/U accesses and walks are not denied by PMP.
        li t0, -1
        csrw pmpaddr0, t0
        li t0, 0x1f
        csrw pmpcfg0, t0
        li t0, QBASE
        LX s1, 0, t0                 # count
        LX t1, 8, t0                 # satp
        csrw satp, t1
        addi s0, t0, 64              # first record
next:
        beqz s1, done
        LX s2, 0, s0                 # va
        LX s3, 8, s0                 # control
        srli s8, s3, 8
        andi s8, s8, 0xf             # k
        # Save the k entries (physical: M-mode with MPRV clear is untranslated).
        la s4, saved
        li t0, 0
1:      bge t0, s8, 2f
        slli t1, t0, 3
        add t1, t1, s0
        LX t1, 16, t1
        LX t2, 0, t1
        slli t3, t0, 3
        add t3, t3, s4
        SX t2, 0, t3
        addi t0, t0, 1
        j 1b
2:      li s5, -1
        li s6, 0
        li s7, 0
        sfence.vma zero, zero
        call set_mode
        la s9, after
        andi t0, s3, 3
        li t1, 2
        beq t0, t1, fetch
        li t2, MPRV
        bnez t0, store
        csrs mstatus, t2
        lw s7, 0(s2)
        j after
store:
        li t3, MARK
        csrs mstatus, t2
        sw t3, 0(s2)
        j after
fetch:
        csrw mepc, s2
        mret                         # to S or U at va, where an ECALL waits
after:
        li t0, MPRV
        csrc mstatus, t0
        andi t0, s3, 3
        li t1, 1
        beq t0, t1, stored
        li t1, 2
        bne t0, t1, report
        # A fetch that reached the ECALL (cause 8 from U, 9 from S) succeeded: read the word's
        # address half through the same mapping (MXR and SUM make it readable in that mode).
        addi t0, s5, -8
        li t1, 1
        bgtu t0, t1, report
        li s5, -1
        call set_mode
        li t0, MPRV | MXR | SUM
        csrs mstatus, t0
        lw s7, 4(s2)
        li t0, MPRV
        csrc mstatus, t0
        j report
stored:
        # A store that succeeded: is the mark where pagelab says (record word 7)? Then report
        # that word's address half, as a load would, and put the word back.
        li t0, -1
        bne s5, t0, report
        li s7, 0xdead
        LX t0, 56, s0
        beqz t0, report
        lw t1, 0(t0)
        li t2, MARK
        bne t1, t2, report
        srli s7, t0, 3
        sw s7, 0(t0)
report:
        li a0, 'Q'
        call putc
        mv a0, s5
        call puthex
        mv a0, s6
        call puthex
        mv a0, s7
        call puthex
        # Report each entry as the walk left it, then restore it.
        li s10, 0
3:      bge s10, s8, 4f
        slli t1, s10, 3
        add t1, t1, s0
        LX s11, 16, t1
        LX a0, 0, s11
        call puthex
        slli t3, s10, 3
        add t3, t3, s4
        LX t2, 0, t3
        SX t2, 0, s11
        addi s10, s10, 1
        j 3b
4:      li a0, '\n'
        call putc
        addi s0, s0, 64
        addi s1, s1, -1
        j next
done:
        li t0, TESTDEV
        li t1, 0x5555
        sw t1, 0(t0)
5:      j 5b

# mstatus.MPP, SUM and MXR from the control word in s3 (MPRV left clear).
set_mode:
        li t0, MPRV | SUM | MXR | MPP_MASK
        csrc mstatus, t0
        li t0, 0
        andi t1, s3, 4
        bnez t1, 1f
        li t0, MPP_S
1:      andi t1, s3, 8
        beqz t1, 2f
        li t2, SUM
        or t0, t0, t2
2:      andi t1, s3, 16
        beqz t1, 3f
        li t2, MXR
        or t0, t0, t2
3:      csrs mstatus, t0
        ret

putc:
        li t0, UART
        sb a0, 0(t0)
        ret

# " " then a0 in hex, XLEN/4 digits.
puthex:
        mv t4, ra
        mv t5, a0
        li a0, ' '
        call putc
        li t6, XB * 8
1:      addi t6, t6, -4
        srl a0, t5, t6
        andi a0, a0, 0xf
        li t0, 10
        blt a0, t0, 2f
        addi a0, a0, 'a' - 10 - '0'
2:      addi a0, a0, '0'
        call putc
        bnez t6, 1b
        mv ra, t4
        ret

        .balign 4
trap:
        csrr s5, mcause
        csrr s6, mtval
        csrw mepc, s9
        li t0, MPRV
        csrc mstatus, t0
        li t0, MPP_MASK
        csrs mstatus, t0             # return to M-mode
        mret

        .section .bss
        .balign 16
saved:  .space 8 * 16
        .space 4096
stack_top:
