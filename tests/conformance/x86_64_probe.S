# x86-64 conformance probe: a multiboot kernel for `qemu-system-x86_64 -cpu max -kernel`. It
# enters long mode on the page tables the harness loaded (CR3 from the query block), then
# performs each query: supervisor accesses in ring 0, user accesses in ring 3 (IRETQ to a stub
# in the user page at USER), fetches by jumping to the address, where the harness placed
# INT 0x80. #PF and #GP come back to ring 0 and record the vector, error code and CR2.
#
# The harness's tables must identity-map 0 to 24 MiB through PML4[0] (supervisor, except the
# 2 MiB page at USER, which is user): the probe, the query block, the tables and the data pages
# are reached there.
#
# Query block at QBASE (64-bit words): [0] count, [1] CR3, [2] bit 0: CR4.LA57, then 64-byte
# records:
#   [0] va  [1] control: bits 1:0 access (0 read, 1 write, 2 fetch), bit 2 user, bit 3 CR0.WP,
#   bit 4 CR4.SMEP, bit 5 CR4.SMAP, bit 6 EFER.NXE, bit 7 EFLAGS.AC (supervisor accesses),
#   bits 11:8 k  [2..2+k] physical addresses of the entries the walk reads.
# Data pages hold 8-byte words: INT 0x80, NOP, NOP, then (physical address of the word) >> 3.
# Reads and writes are 4 bytes at va (= 4 mod 8). A write stores MARK; the probe then looks
# for it where the harness expects the write to land (record word 7) and restores the word.
# A successful fetch then reads the word's high half.
# Output, per query: "Q vector error-code cr2 value e0 .. ek-1" in hex; vector all ones on
# success.

        .include "x86_probe_boot.inc"
        mov eax, [QBASE + 8]
        mov cr3, eax
        mov eax, cr4
        or eax, 1 << 5                  # PAE
        test dword ptr [QBASE + 16], 1
        jz 1f
        or eax, 1 << 12                 # LA57: 5-level paging
1:      mov cr4, eax
        mov ecx, EFER
        rdmsr
        or eax, (1 << 8) | (1 << 11)    # LME, NXE
        wrmsr
        mov eax, cr0
        or eax, 0x80010001              # PG, WP, PE
        mov cr0, eax
        .att_syntax
        ljmp $0x08, $long_mode
        .intel_syntax noprefix

        .code64
long_mode:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov rsp, offset stack_top
        # The TSS descriptor (its base is below 16 MiB) and the ring-0 stack for ring-3 traps.
        mov rax, offset tss
        shl rax, 16
        or rax, 103
        mov rdx, 0x89
        shl rdx, 40
        or rax, rdx
        mov [gdt + 0x28], rax
        mov qword ptr [gdt + 0x30], 0
        mov rax, offset trap_stack_top
        mov [tss + 4], rax
        mov ax, 0x28
        ltr ax
        # IDT: every vector to isr_other, then #GP, #PF and the DPL-3 INT 0x80.
        xor edi, edi
1:      mov rsi, offset isr_other
        mov edx, 0x8e
        call set_gate
        inc edi
        cmp edi, 256
        jb 1b
        mov edi, 13
        mov rsi, offset isr_gp
        call set_gate
        mov edi, 14
        mov rsi, offset isr_pf
        call set_gate
        mov edi, 0x80
        mov rsi, offset isr_back
        mov edx, 0xee
        call set_gate
        lidt [idt_ptr]
        mov al, '\n'                    # the firmware's text may end without one
        call putc

        mov rsi, QBASE
        mov rbp, [rsi]                  # count
        lea rsi, [rsi + 64]
        mov [record], rsi
next:
        test rbp, rbp
        jz done
        mov rsi, [record]
        mov rdi, [rsi]                  # va
        mov rbx, [rsi + 8]              # control
        mov rcx, rbx
        shr rcx, 8
        and rcx, 0xf
        mov [count_k], rcx
        # Save the walked entries (identity-mapped, so physical = virtual here).
        xor ecx, ecx
2:      cmp rcx, [count_k]
        jae 3f
        mov rax, [rsi + 16 + rcx * 8]
        mov rax, [rax]
        mov [saved + rcx * 8], rax
        inc rcx
        jmp 2b
3:      call set_switches
        mov r12, -2
        xor r13, r13
        xor r14, r14
        xor r15, r15
        mov [saved_rsp], rsp
        mov eax, ebx
        and eax, 3
        test ebx, 4
        jnz ring3
        test ebx, 0x80
        jz 4f
        stac
4:      cmp eax, 1
        je s_write
        ja s_fetch
        mov r15d, [rdi]
        mov r12, -1
        jmp after
s_write:
        mov dword ptr [rdi], MARK
        mov r12, -1
        jmp after
s_fetch:
        call rdi                        # INT 0x80 there comes back through isr_back
        jmp after
ring3:
        mov rdx, offset user_read
        cmp eax, 1
        jb 5f
        mov rdx, offset user_write
        je 5f
        mov rdx, rdi                    # fetch: run at va itself
5:      push 0x1b                       # SS: user data, RPL 3
        push USER + 0x1ff000            # user stack, top of the user page
        push 0x2                        # RFLAGS: IF=0, AC=0
        push 0x23                       # CS: user code, RPL 3
        push rdx
        iretq

after:
        clac
        mov rsp, [saved_rsp]
        mov rsi, [record]
        mov rdi, [rsi]
        mov rbx, [rsi + 8]
        mov eax, ebx
        and eax, 3
        cmp r12, -1
        jne 6f
        cmp eax, 1
        jne 10f
        # A store that succeeded: is the mark where pagelab says (record word 7)? Then report
        # that word's address half, as a read would, and put the word back.
        mov r15, 0xdead
        mov rdx, [rsi + 56]
        test rdx, rdx
        jz 6f
        cmp dword ptr [rdx], MARK
        jne 6f
        mov r15, rdx
        shr r15, 3
        mov [rdx], r15d
        jmp 6f
        # A fetch that reached INT 0x80 succeeded: read the word's high half in ring 0.
10:     cmp eax, 2
        jne 6f
        stac
        mov r15d, [rdi + 4]
        clac
6:      mov al, 'Q'
        call putc
        mov rax, r12
        call puthex
        mov rax, r13
        call puthex
        mov rax, r14
        call puthex
        mov rax, r15
        call puthex
        xor ecx, ecx
7:      cmp rcx, [count_k]
        jae 8f
        mov rsi, [record]
        mov rdx, [rsi + 16 + rcx * 8]
        mov rax, [rdx]
        push rcx
        push rdx
        call puthex
        pop rdx
        pop rcx
        mov rax, [saved + rcx * 8]
        mov [rdx], rax
        inc rcx
        jmp 7b
8:      mov al, '\n'
        call putc
        add qword ptr [record], 64
        dec rbp
        jmp next

        probe_exit

# CR0.WP, CR4.SMEP/SMAP and EFER.NXE from the control word in rbx, then a TLB flush.
set_switches:
        mov rax, cr0
        btr rax, 16
        test ebx, 8
        jz 1f
        bts rax, 16
1:      mov cr0, rax
        mov rax, cr4
        btr rax, 20
        btr rax, 21
        test ebx, 16
        jz 2f
        bts rax, 20
2:      test ebx, 32
        jz 3f
        bts rax, 21
3:      mov cr4, rax
        mov ecx, EFER
        rdmsr
        btr eax, 11
        test ebx, 64
        jz 4f
        bts eax, 11
4:      wrmsr
        mov rax, cr3
        mov cr3, rax
        ret

# IDT gate edi -> handler rsi, type/DPL byte dl.
set_gate:
        mov rax, rdi
        shl rax, 4
        add rax, offset idt
        mov rcx, rsi
        mov [rax], cx                   # offset 15:0
        mov word ptr [rax + 2], 0x08
        mov byte ptr [rax + 4], 0
        mov [rax + 5], dl
        shr rcx, 16
        mov [rax + 6], cx               # offset 31:16
        shr rcx, 16
        mov [rax + 8], ecx              # offset 63:32
        mov dword ptr [rax + 12], 0
        ret

putc:
        push rdx
        mov dx, COM1
        out dx, al
        pop rdx
        ret

# " " then rax in 16 hex digits.
puthex:
        push rcx
        push rbx
        mov rbx, rax
        mov al, ' '
        call putc
        mov ecx, 64
1:      sub ecx, 4
        mov rax, rbx
        shr rax, cl
        and eax, 0xf
        cmp eax, 10
        jb 2f
        add eax, 'a' - 10 - '0'
2:      add eax, '0'
        call putc
        test ecx, ecx
        jnz 1b
        pop rbx
        pop rcx
        ret

isr_pf:
        pop r13
        mov r14, cr2
        mov r12, 14
        jmp after
isr_gp:
        pop r13
        xor r14, r14
        mov r12, 13
        jmp after
isr_back:
        mov r12, -1
        jmp after
isr_other:
        mov r12, 0xfe
        jmp after

        .section .data
        .balign 16
        probe_gdt 0xaf, 2, .quad
        .balign 16
idt_ptr:
        .word 256 * 16 - 1
        .quad idt

        .section .bss
        .balign 4096
idt:    .space 256 * 16
tss:    .space 104
        .balign 8
record: .space 8
count_k: .space 8
saved_rsp: .space 8
saved:  .space 8 * 8
        probe_stacks

        .section .user, "ax"
user_read:
        mov r15d, [rdi]
        int 0x80
user_write:
        mov dword ptr [rdi], MARK
        int 0x80
