# x86 32-bit and PAE conformance probe: a multiboot kernel for `qemu-system-x86_64 -cpu max
# -kernel`. It stays in 32-bit protected mode, turns paging on with the harness's tables (CR3
# from the query block; 32-bit paging with CR4.PSE, or PAE), then performs each query like the
# x86-64 probe: supervisor accesses in ring 0, user accesses in ring 3 (IRET to a stub in the
# user page at USER), fetches by jumping to the address, where the harness placed INT 0x80.
#
# The harness's tables must identity-map 0 to 24 MiB (supervisor, except USER..USER+2 MiB, which
# is user): the probe, the query block, the tables and the data pages are reached there.
#
# Query block at QBASE (64-bit words): [0] count, [1] CR3, [2] bit 0: PAE (else 32-bit paging),
# then 64-byte records as for the x86-64 probe: [0] va  [1] control: bits 1:0 access (0 read,
# 1 write, 2 fetch), bit 2 user, bit 3 CR0.WP, bit 4 CR4.SMEP, bit 5 CR4.SMAP, bit 6 EFER.NXE,
# bit 7 EFLAGS.AC, bits 11:8 k  [2..2+k] physical addresses of the entries the walk reads
# [7] for a write, where pagelab says it lands.
# Output, per query: "Q vector error-code cr2 value e0 .. ek-1" in hex (64-bit fields); vector
# all ones on success. Entries are 8 bytes with PAE, 4 without.

        .include "x86_probe_boot.inc"
        .att_syntax
        ljmp $0x08, $1f
        .intel_syntax noprefix
1:      mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov esp, offset stack_top
        # The TSS descriptor (base below 16 MiB) and the ring-0 stack for ring-3 traps.
        mov eax, offset tss
        shl eax, 16
        or eax, 103
        mov [gdt + 0x28], eax
        mov eax, offset tss
        shr eax, 16
        and eax, 0xff
        or eax, 0x8900
        mov [gdt + 0x2c], eax
        mov dword ptr [tss + 4], offset trap_stack_top
        mov dword ptr [tss + 8], 0x10
        mov ax, 0x28
        ltr ax
        xor edi, edi
2:      mov esi, offset isr_other
        mov edx, 0x8e
        call set_gate
        inc edi
        cmp edi, 256
        jb 2b
        mov edi, 13
        mov esi, offset isr_gp
        call set_gate
        mov edi, 14
        mov esi, offset isr_pf
        call set_gate
        mov edi, 0x80
        mov esi, offset isr_back
        mov edx, 0xee
        call set_gate
        lidt [idt_ptr]
        mov al, '\n'                    # the firmware's text may end without one
        call putc
        # Paging: CR4.PSE always (4 MiB pages in 32-bit paging), CR4.PAE when asked.
        mov eax, [QBASE + 8]
        mov cr3, eax
        mov eax, cr4
        or eax, 1 << 4
        test dword ptr [QBASE + 16], 1
        jz 3f
        or eax, 1 << 5
3:      mov cr4, eax
        mov eax, cr0
        or eax, 0x80010000              # PG, WP
        mov cr0, eax
        mov eax, [QBASE]
        mov [remaining], eax
        mov dword ptr [record], QBASE + 64

next:
        cmp dword ptr [remaining], 0
        je done
        mov esi, [record]
        mov edi, [esi]                  # va
        mov ebx, [esi + 8]              # control
        mov ecx, ebx
        shr ecx, 8
        and ecx, 0xf
        mov [count_k], ecx
        # Save the walked entries (8 bytes each; the high half is put back unchanged for 4-byte
        # entries, as nothing else writes it).
        xor ecx, ecx
4:      cmp ecx, [count_k]
        jae 5f
        mov edx, [esi + 16 + ecx * 8]
        mov eax, [edx]
        mov [saved + ecx * 8], eax
        mov eax, [edx + 4]
        mov [saved + 4 + ecx * 8], eax
        inc ecx
        jmp 4b
5:      call set_switches
        mov dword ptr [res_vector], -2
        mov dword ptr [res_code], 0
        mov dword ptr [res_cr2], 0
        mov dword ptr [res_value], 0
        mov [saved_esp], esp
        mov eax, ebx
        and eax, 3
        test ebx, 4
        jnz ring3
        test ebx, 0x80
        jz 6f
        stac
6:      cmp eax, 1
        je s_write
        ja s_fetch
        mov eax, [edi]
        mov [res_value], eax
        mov dword ptr [res_vector], -1
        jmp after
s_write:
        mov dword ptr [edi], MARK
        mov dword ptr [res_vector], -1
        jmp after
s_fetch:
        call edi                        # INT 0x80 there comes back through isr_back
        jmp after
ring3:
        mov edx, offset user_read
        cmp eax, 1
        jb 7f
        mov edx, offset user_write
        je 7f
        mov edx, edi
7:      push 0x1b                       # SS: user data, RPL 3
        push USER + 0x1ff000            # user stack, top of the user page
        push 0x2                        # EFLAGS: IF=0, AC=0
        push 0x23                       # CS: user code, RPL 3
        push edx
        iret

after:
        clac
        mov esp, [saved_esp]
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov esi, [record]
        mov edi, [esi]
        mov ebx, [esi + 8]
        mov eax, ebx
        and eax, 3
        cmp dword ptr [res_vector], -1
        jne 8f
        cmp eax, 1
        jne 10f
        # A write that succeeded: is the mark where pagelab says (record word 7)?
        mov dword ptr [res_value], 0xdead
        mov edx, [esi + 56]
        test edx, edx
        jz 8f
        cmp dword ptr [edx], MARK
        jne 8f
        mov eax, edx
        shr eax, 3
        mov [res_value], eax
        mov [edx], eax
        jmp 8f
10:     cmp eax, 2
        jne 8f
        # A fetch that reached INT 0x80: read the word's high half in ring 0.
        stac
        mov eax, [edi + 4]
        clac
        mov [res_value], eax
8:      mov al, 'Q'
        call putc
        mov eax, [res_vector]
        cdq
        call puthex64
        xor edx, edx
        mov eax, [res_code]
        call puthex64
        xor edx, edx
        mov eax, [res_cr2]
        call puthex64
        xor edx, edx
        mov eax, [res_value]
        call puthex64
        xor ecx, ecx
9:      cmp ecx, [count_k]
        jae 11f
        mov esi, [record]
        mov ebx, [esi + 16 + ecx * 8]
        mov eax, [ebx]
        xor edx, edx
        test dword ptr [QBASE + 16], 1
        jz 12f
        mov edx, [ebx + 4]
12:     push ecx
        call puthex64
        pop ecx
        mov eax, [saved + ecx * 8]
        mov [ebx], eax
        mov eax, [saved + 4 + ecx * 8]
        mov [ebx + 4], eax
        inc ecx
        jmp 9b
11:     mov al, '\n'
        call putc
        add dword ptr [record], 64
        dec dword ptr [remaining]
        jmp next

        probe_exit

# CR0.WP, CR4.SMEP/SMAP and EFER.NXE from the control word in ebx, then a TLB flush (which
# with PAE also reloads the PDPTEs from memory).
set_switches:
        mov eax, cr0
        btr eax, 16
        test ebx, 8
        jz 1f
        bts eax, 16
1:      mov cr0, eax
        mov eax, cr4
        btr eax, 20
        btr eax, 21
        test ebx, 16
        jz 2f
        bts eax, 20
2:      test ebx, 32
        jz 3f
        bts eax, 21
3:      mov cr4, eax
        mov ecx, EFER
        rdmsr
        btr eax, 11
        test ebx, 64
        jz 4f
        bts eax, 11
4:      wrmsr
        mov eax, cr3
        mov cr3, eax
        ret

# IDT gate edi -> handler esi, type/DPL byte dl.
set_gate:
        lea eax, [idt + edi * 8]
        mov ecx, esi
        mov [eax], cx
        mov word ptr [eax + 2], 0x08
        mov byte ptr [eax + 4], 0
        mov [eax + 5], dl
        shr ecx, 16
        mov [eax + 6], cx
        ret

putc:
        push edx
        mov dx, COM1
        out dx, al
        pop edx
        ret

# " " then edx:eax in 16 hex digits.
puthex64:
        push eax
        mov al, ' '
        call putc
        mov eax, edx
        call hex8
        pop eax
        call hex8
        ret

hex8:
        push ecx
        push ebx
        mov ebx, eax
        mov ecx, 32
1:      sub ecx, 4
        mov eax, ebx
        shr eax, cl
        and eax, 0xf
        cmp eax, 10
        jb 2f
        add eax, 'a' - 10 - '0'
2:      add eax, '0'
        call putc
        test ecx, ecx
        jnz 1b
        pop ebx
        pop ecx
        ret

isr_pf:
        pop dword ptr [res_code]
        push eax
        mov eax, cr2
        mov [res_cr2], eax
        pop eax
        mov dword ptr [res_vector], 14
        jmp after
isr_gp:
        pop dword ptr [res_code]
        mov dword ptr [res_vector], 13
        jmp after
isr_back:
        mov [res_value], eax
        mov dword ptr [res_vector], -1
        jmp after
isr_other:
        mov dword ptr [res_vector], 0xfe
        jmp after

        .section .data
        .balign 16
        probe_gdt 0xcf, 1, .long
        .balign 16
idt_ptr:
        .word 256 * 8 - 1
        .long idt

        .section .bss
        .balign 4096
idt:    .space 256 * 8
tss:    .space 104
        .balign 8
record: .space 4
remaining: .space 4
count_k: .space 4
saved_esp: .space 4
res_vector: .space 4
res_code: .space 4
res_cr2: .space 4
res_value: .space 4
saved:  .space 8 * 8
        probe_stacks

        .section .user, "ax"
user_read:
        mov eax, [edi]
        int 0x80
user_write:
        mov dword ptr [edi], MARK
        int 0x80
