#!/usr/bin/env python3
"""Generates lcnet's x86-64 micro-kernels as Go assembly.

    python3 internal/kernel/gen/asm.py   # or: go generate ./internal/kernel

writes avx512_amd64.{s,go} and avx2_amd64.{s,go} in internal/kernel. Each
kernel's contract is the pure-Go reference of the same role in generic.go;
the tests run every kernel against float64 references. Hard rules of the
generated code: every function ends with VZEROUPPER and no legacy-SSE
instruction is emitted (on this CPU one SSE instruction with dirty upper
vector state cost about a microsecond).

Kernels:
  tile{r}x{16,32}Z  AVX-512 GEMM tile, r = 1..14 rows of 16 or 32 columns,
                    bias + activation fused (28 zmm accumulators at 14x32).
  tile14x{16,32}ZP  the full tiles, also prefetching into L2 the panels the
                    next tile call reads (the late layers' weights are
                    megabytes, streamed from L3).
  gemvF{32,16}Z     AVX-512 one-row GEMM over panels, 4 FMA chains; fp16
                    panels widened in-register by VCVTPH2PS.
  dwRowZ, stemRowZ  AVX-512 depthwise/stem row runs of pixels with clipped
                    horizontal taps, 8/4/1 pixels a pass.
  dwFull{3,5}s{1,2}Z  AVX-512 whole depthwise rows (k 3 or 5, horizontal
                    stride 1 or 2), borders included: groups of 16/14/8/7/4
                    pixels, each input loaded once per tap row for all the
                    pixels it feeds, the padding columns loaded as zeros
                    under masks.
  dwPixZ            AVX-512 depthwise runs of 1-3 pixels (rows narrower
                    than 4): one pixel x up to 8 channel chunks a pass.
  stemInt{1,2,3}Z   AVX-512 3x3 stem interior runs for 16, 32 or 48 output
                    channels: each input broadcast once for all chunks.
  tile{r}x16Y, gemvF{32,16}Y, dwRowY, stemRowY: the same on AVX2 + FMA.
"""

def rowaddr(r, bases):
    b=bases[r//4]; i=r%4
    return {0:f'({b})',1:f'({b})(BX*1)',2:f'({b})(BX*2)',3:f'({b})(R10*1)'}[i]
def caddr(r, bases):
    b=bases[r//4]; i=r%4
    return {0:f'({b})',1:f'({b})(R12*1)',2:f'({b})(R12*2)',3:f'({b})(R13*1)'}[i]
ABASE=('SI','R8','R9','R11')
def tile(name, np, rows, pf=False):
    acc=lambda r,q: f'Z{r*np+q}'
    nacc=rows*np
    W=[f'Z{nacc}', f'Z{nacc+1}'][:np]   # weights
    B=f'Z{nacc+np}'                    # broadcast
    # epilogue regs: after the loop W and B are free
    bias=[f'Z{nacc+q}' for q in range(np)]  # reuse W regs for bias
    T=f'Z{nacc+np}'                    # temp (reuse B)
    assert nacc+np < 32
    nb=(rows+3)//4
    o=[]
    if pf:
        o.append(f'// func {name}{SIG_TILE_PF}')
        o.append(f'TEXT ·{name}(SB), NOSPLIT, $0-80')
        # DI and R12 are free until the store: the prefetch cursor and its
        # step in bytes per k.
        o += ['\tMOVQ pf+64(FP), DI', '\tMOVQ pfstep+72(FP), R12']
    else:
        o.append(f'// func {name}{SIG_TILE}')
        o.append(f'TEXT ·{name}(SB), NOSPLIT, $0-64')
    o += ['\tMOVQ k+0(FP), CX','\tMOVQ a+8(FP), SI','\tMOVQ lda+16(FP), BX','\tMOVQ p+24(FP), DX','\tSHLQ $2, BX','\tLEAQ (BX)(BX*2), R10']
    for i in range(1,nb):
        o.append(f'\tLEAQ ({ABASE[i-1]})(BX*4), {ABASE[i]}')
    if np==2:
        o += ['\tMOVQ CX, R13','\tSHLQ $6, R13','\tADDQ DX, R13']
    for r in range(rows):
        for q in range(np):
            o.append(f'\tVPXORD {acc(r,q)}, {acc(r,q)}, {acc(r,q)}')
    o.append(f'{name}_loop:')
    if pf:
        o += ['\tPREFETCHT1 (DI)', '\tPREFETCHT1 64(DI)', '\tADDQ R12, DI']
    o.append(f'\tVMOVUPS (DX), {W[0]}')
    if np==2: o.append(f'\tVMOVUPS (R13), {W[1]}')
    for r in range(rows):
        o.append(f'\tVBROADCASTSS {rowaddr(r, ABASE)}, {B}')
        for q in range(np):
            o.append(f'\tVFMADD231PS {W[q]}, {B}, {acc(r,q)}')
    for i in range(nb):
        o.append(f'\tADDQ $4, {ABASE[i]}')
    o.append('\tADDQ $64, DX')
    if np==2: o.append('\tADDQ $64, R13')
    o += ['\tDECQ CX', f'\tJNZ {name}_loop']
    o.append('\tMOVQ bias+32(FP), AX')
    o.append(f'\tVMOVUPS (AX), {bias[0]}')
    if np==2: o.append(f'\tVMOVUPS 64(AX), {bias[1]}')
    for r in range(rows):
        for q in range(np):
            o.append(f'\tVADDPS {bias[q]}, {acc(r,q)}, {acc(r,q)}')
    o += ['\tMOVQ act+56(FP), AX','\tCMPQ AX, $1',f'\tJEQ {name}_relu','\tCMPQ AX, $2',f'\tJEQ {name}_hswish','\tCMPQ AX, $3',f'\tJEQ {name}_hsig',f'\tJMP {name}_store']
    o.append(f'{name}_relu:')
    for r in range(rows):
        for q in range(np):
            o.append(f'\tVMAXPS.BCST kzero<>(SB), {acc(r,q)}, {acc(r,q)}')
    o.append(f'\tJMP {name}_store')
    o.append(f'{name}_hswish:')
    for r in range(rows):
        for q in range(np):
            z=acc(r,q)
            o += [f'\tVADDPS.BCST kthree<>(SB), {z}, {T}', f'\tVMAXPS.BCST kzero<>(SB), {T}, {T}', f'\tVMINPS.BCST ksix<>(SB), {T}, {T}',
                  f'\tVMULPS {T}, {z}, {T}', f'\tVMULPS.BCST ksixth<>(SB), {T}, {z}']
    o.append(f'\tJMP {name}_store')
    o.append(f'{name}_hsig:')
    for r in range(rows):
        for q in range(np):
            z=acc(r,q)
            o += [f'\tVMULPS.BCST kslope<>(SB), {z}, {z}', f'\tVADDPS.BCST khalf<>(SB), {z}, {z}', f'\tVMAXPS.BCST kzero<>(SB), {z}, {z}', f'\tVMINPS.BCST kone<>(SB), {z}, {z}']
    o.append(f'{name}_store:')
    o += ['\tMOVQ c+40(FP), DI','\tMOVQ ldc+48(FP), R12','\tSHLQ $2, R12','\tLEAQ (R12)(R12*2), R13']
    CB=('DI','SI','R8','R9')
    for i in range(1,nb):
        o.append(f'\tLEAQ ({CB[i-1]})(R12*4), {CB[i]}')
    for r in range(rows):
        for q in range(np):
            off='' if q==0 else '64'
            o.append(f'\tVMOVUPS {acc(r,q)}, {off}{caddr(r, CB)}')
    o += ['\tVZEROUPPER','\tRET']
    return '\n'.join(o)+'\n'


GEMV_AHEAD = 8192  # bytes

def gemvZ(name, half):
    es = 32 if half else 64   # bytes per k row of a panel
    ld = (lambda off, z: f'\tVCVTPH2PS {off}(DX), {z}') if half else (lambda off, z: f'\tVMOVUPS {off}(DX), {z}')
    o=[]
    o.append(f'// func {name}(k int, a *float32, p *{"uint16" if half else "float32"}, np int, bias *float32, c *float32, act int)')
    o.append(f'TEXT ·{name}(SB), NOSPLIT, $0-56')
    o.append('\tMOVQ p+16(FP), DX')
    o.append('\tMOVQ np+24(FP), R9')
    o.append('\tMOVQ bias+32(FP), R10')
    o.append('\tMOVQ c+40(FP), DI')
    o.append('\tMOVQ act+48(FP), R11')
    o.append('\tVPXORD Z28, Z28, Z28')
    o.append(f'{name}_panel:')
    o.append('\tMOVQ k+0(FP), CX')
    o.append('\tMOVQ a+8(FP), SI')
    for z in range(4): o.append(f'\tVPXORD Z{z}, Z{z}, Z{z}')
    o.append('\tCMPQ CX, $4')
    o.append(f'\tJLT {name}_tail')
    o.append(f'{name}_k4:')
    # The weights stream from L3 once per inference: prefetching 8 KB
    # ahead keeps more lines in flight than the hardware streamer does
    # (about 10% on the x2.5 head).
    for u in range(0, 4*es, 64):
        o.append(f'\tPREFETCHT0 {GEMV_AHEAD+u}(DX)')
    for u in range(4):
        o.append(ld(u*es, f'Z{4+u}'))
    for u in range(4):
        o.append(f'\tVFMADD231PS.BCST {u*4}(SI), Z{4+u}, Z{u}')
    o.append('\tADDQ $16, SI')
    o.append(f'\tADDQ ${4*es}, DX')
    o.append('\tSUBQ $4, CX')
    o.append('\tCMPQ CX, $4')
    o.append(f'\tJGE {name}_k4')
    o.append(f'{name}_tail:')
    o.append('\tTESTQ CX, CX')
    o.append(f'\tJZ {name}_sum')
    o.append(f'{name}_k1:')
    o.append(ld(0, 'Z4'))
    o.append('\tVFMADD231PS.BCST (SI), Z4, Z0')
    o.append('\tADDQ $4, SI')
    o.append(f'\tADDQ ${es}, DX')
    o.append('\tDECQ CX')
    o.append(f'\tJNZ {name}_k1')
    o.append(f'{name}_sum:')
    o.append('\tVADDPS Z1, Z0, Z0')
    o.append('\tVADDPS Z3, Z2, Z2')
    o.append('\tVADDPS Z2, Z0, Z0')
    o.append('\tVADDPS (R10), Z0, Z0')
    o.append('\tCMPQ R11, $1')
    o.append(f'\tJEQ {name}_relu')
    o.append('\tCMPQ R11, $2')
    o.append(f'\tJEQ {name}_hswish')
    o.append('\tCMPQ R11, $3')
    o.append(f'\tJEQ {name}_hsig')
    o.append(f'\tJMP {name}_store')
    o.append(f'{name}_relu:')
    o.append('\tVMAXPS Z28, Z0, Z0')
    o.append(f'\tJMP {name}_store')
    o.append(f'{name}_hswish:')
    o.append('\tVADDPS.BCST kthree<>(SB), Z0, Z1')
    o.append('\tVMAXPS Z28, Z1, Z1')
    o.append('\tVMINPS.BCST ksix<>(SB), Z1, Z1')
    o.append('\tVMULPS Z1, Z0, Z1')
    o.append('\tVMULPS.BCST ksixth<>(SB), Z1, Z0')
    o.append(f'\tJMP {name}_store')
    o.append(f'{name}_hsig:')
    o.append('\tVMULPS.BCST kslope<>(SB), Z0, Z0')
    o.append('\tVADDPS.BCST khalf<>(SB), Z0, Z0')
    o.append('\tVMAXPS Z28, Z0, Z0')
    o.append('\tVMINPS.BCST kone<>(SB), Z0, Z0')
    o.append(f'{name}_store:')
    o.append('\tVMOVUPS Z0, (DI)')
    o.append('\tADDQ $64, DI')
    o.append('\tADDQ $64, R10')
    o.append('\tDECQ R9')
    o.append(f'\tJNZ {name}_panel')
    o.append('\tVZEROUPPER')
    o.append('\tRET')
    return '\n'.join(o)+'\n'

def rowZ(name, scalar):
    o=[]
    o.append(f'// func {name}(in *float32, roff *int, woff *int, nt int, kx0 int, kx1 int, step int, n int, cs int, w *float32, bias *float32, out *float32, act int, nq int)')
    o.append(f'TEXT ·{name}(SB), NOSPLIT, $0-112')
    o += ['\tMOVQ roff+8(FP), R9', '\tMOVQ woff+16(FP), R10', '\tMOVQ step+48(FP), BX', '\tSHLQ $2, BX',
          '\tLEAQ (BX)(BX*2), R11', '\tMOVQ cs+64(FP), R12', '\tSHLQ $2, R12']
    o += act_consts('k')
    o.append(f'{name}_chunk:')
    o += ['\tMOVQ in+0(FP), R8', '\tMOVQ out+88(FP), R14', '\tMOVQ bias+80(FP), AX', '\tVMOVUPS (AX), Z31',
          '\tXORQ R13, R13', '\tMOVQ n+56(FP), R15']
    fma = 'VFMADD231PS.BCST' if scalar else 'VFMADD231PS'
    def taps(label, nacc):
        t=[]
        t.append('\tXORQ DX, DX')
        t.append(f'{label}_tap:')
        t.append('\tMOVQ (R9)(DX*8), SI')
        t.append('\tLEAQ (R8)(SI*4), SI')
        t.append('\tADDQ R13, SI')
        t.append('\tMOVQ kx0+32(FP), AX')
        t.append('\tMOVQ (R10)(DX*8), DI')
        t.append('\tSHLQ $2, DI')
        t.append('\tADDQ w+72(FP), DI')
        if scalar:
            t.append('\tLEAQ (SI)(AX*4), SI')
            t.append('\tIMULQ R12, AX')
            t.append('\tADDQ AX, DI')
        else:
            t.append('\tIMULQ R12, AX')
            t.append('\tADDQ AX, SI')
            t.append('\tADDQ AX, DI')
        t.append('\tMOVQ kx1+40(FP), CX')
        t.append('\tSUBQ kx0+32(FP), CX')
        t.append(f'{label}_kx:')
        t.append('\tVMOVUPS (DI), Z8')
        addrs=['(SI)','(SI)(BX*1)','(SI)(BX*2)','(SI)(R11*1)','(AX)','(AX)(BX*1)','(AX)(BX*2)','(AX)(R11*1)']
        if nacc > 4:
            t.append('\tLEAQ (SI)(BX*4), AX')
        for a in range(nacc):
            t.append(f'\t{fma} {addrs[a]}, Z8, Z{a}')
        t.append('\tADDQ $4, SI' if scalar else '\tADDQ R12, SI')
        t.append('\tADDQ R12, DI')
        t.append('\tDECQ CX')
        t.append(f'\tJNZ {label}_kx')
        t.append('\tINCQ DX')
        t.append('\tCMPQ DX, nt+24(FP)')
        t.append(f'\tJLT {label}_tap')
        return t
    o.append(f'{name}_oct:')
    o += ['\tCMPQ R15, $8', f'\tJLT {name}_quad']
    o += [f'\tVMOVAPS Z31, Z{a}' for a in range(8)]
    o += taps(f'{name}_o', 8)
    o += act_block(f'{name}_oa', ['Z%d' % a for a in range(8)])
    o += ['\tLEAQ (R12)(R12*2), AX', '\tVMOVUPS Z0, (R14)', '\tVMOVUPS Z1, (R14)(R12*1)', '\tVMOVUPS Z2, (R14)(R12*2)',
          '\tVMOVUPS Z3, (R14)(AX*1)', '\tLEAQ (R14)(R12*4), R14',
          '\tVMOVUPS Z4, (R14)', '\tVMOVUPS Z5, (R14)(R12*1)', '\tVMOVUPS Z6, (R14)(R12*2)',
          '\tVMOVUPS Z7, (R14)(AX*1)', '\tLEAQ (R14)(R12*4), R14', '\tLEAQ (R13)(BX*8), R13',
          '\tSUBQ $8, R15', f'\tJMP {name}_oct']
    o.append(f'{name}_quad:')
    o += ['\tCMPQ R15, $4', f'\tJLT {name}_single']
    o += [f'\tVMOVAPS Z31, Z{a}' for a in range(4)]
    o += taps(f'{name}_q', 4)
    o += act_block(f'{name}_qa', ['Z0','Z1','Z2','Z3'])
    o += ['\tVMOVUPS Z0, (R14)', '\tVMOVUPS Z1, (R14)(R12*1)', '\tVMOVUPS Z2, (R14)(R12*2)', '\tLEAQ (R12)(R12*2), AX',
          '\tVMOVUPS Z3, (R14)(AX*1)', '\tLEAQ (R14)(R12*4), R14', '\tLEAQ (R13)(BX*4), R13',
          '\tSUBQ $4, R15']
    o.append(f'{name}_single:')
    o += ['\tTESTQ R15, R15', f'\tJZ {name}_next']
    o.append(f'{name}_one:')
    o.append('\tVMOVAPS Z31, Z0')
    o += taps(f'{name}_s', 1)
    o += act_block(f'{name}_sa', ['Z0'])
    o += ['\tVMOVUPS Z0, (R14)', '\tADDQ R12, R14', '\tADDQ BX, R13', '\tDECQ R15', f'\tJNZ {name}_one']
    o.append(f'{name}_next:')
    if not scalar:
        o.append('\tADDQ $64, in+0(FP)')
    o += ['\tADDQ $64, w+72(FP)', '\tADDQ $64, bias+80(FP)', '\tADDQ $64, out+88(FP)', '\tDECQ nq+104(FP)', f'\tJNZ {name}_chunk',
          '\tVZEROUPPER', '\tRET']
    return '\n'.join(o)+'\n'

def act_consts(prefix):
    # Loads the constants act_block reads into Z24-Z30, from the scalar
    # constants of that prefix (see scalar_consts).
    return [f'\tVBROADCASTSS {prefix}three<>(SB), Z24', f'\tVBROADCASTSS {prefix}six<>(SB), Z25', f'\tVBROADCASTSS {prefix}sixth<>(SB), Z26',
            f'\tVBROADCASTSS {prefix}slope<>(SB), Z27', '\tVPXORD Z28, Z28, Z28', f'\tVBROADCASTSS {prefix}half<>(SB), Z29',
            f'\tVBROADCASTSS {prefix}one<>(SB), Z30']

def act_block(name, regs, T='Z9'):
    # bias already added; the activation constants live in Z24-Z30
    # (3, 6, 1/6, Paddle's slope, 0, 0.5, 1), T is a free temporary.
    o=['\tMOVQ act+96(FP), AX','\tCMPQ AX, $1',f'\tJEQ {name}_relu','\tCMPQ AX, $2',f'\tJEQ {name}_hswish','\tCMPQ AX, $3',f'\tJEQ {name}_hsig',f'\tJMP {name}_store']
    o.append(f'{name}_relu:')
    for z in regs: o.append(f'\tVMAXPS Z28, {z}, {z}')
    o.append(f'\tJMP {name}_store')
    o.append(f'{name}_hswish:')
    for z in regs:
        o += [f'\tVADDPS Z24, {z}, {T}', f'\tVMAXPS Z28, {T}, {T}', f'\tVMINPS Z25, {T}, {T}', f'\tVMULPS {T}, {z}, {T}', f'\tVMULPS Z26, {T}, {z}']
    o.append(f'\tJMP {name}_store')
    o.append(f'{name}_hsig:')
    for z in regs:
        o += [f'\tVMULPS Z27, {z}, {z}', f'\tVADDPS Z29, {z}, {z}', f'\tVMAXPS Z28, {z}, {z}', f'\tVMINPS Z30, {z}, {z}']
    o.append(f'{name}_store:')
    return o


def kxaddr(base, kx):
    return {0:f'({base})',1:f'({base})(R12*1)',2:f'({base})(R12*2)',3:f'({base})(R10*1)',4:f'({base})(R12*4)'}[kx]

def advance(reg, idx, n):
    # reg += n*idx in LEAs of scale 8, 4, 2 and 1.
    o = []
    for m in (8, 4, 2, 1):
        while n >= m:
            o.append(f'\tLEAQ ({reg})({idx}*{m}), {reg}')
            n -= m
    return o

def fullGroup(name, k, s, npix):
    # One group of npix output pixels over all chunks. npix accumulators
    # Z0..; the tap row's k weights in Z16..; inputs in Z21/Z22; the
    # activation's temporary Z23. Each input pixel of a tap row is loaded
    # once and feeds every output pixel it is a tap of: k + s*(npix-1) + k
    # loads for npix*k FMAs (one load per FMA ran at about one FMA a
    # cycle). The first and last p input columns are loaded under masks
    # K1..K{2p}, zero where they fall outside the row (the zero padding),
    # so border pixels take the same path as the interior. R13 is the
    # group's first input column in bytes from roff's, x0's slot its
    # column index.
    p = (k-1)//2
    span = s*(npix-1)+k
    o = ['\tMOVL $0xFFFF, CX', '\tMOVQ x0+32(FP), AX']
    for i in range(p):
        o += [f'\tLEAQ {i}(AX), SI', '\tXORL DI, DI', '\tCMPQ SI, $0', '\tCMOVQGE CX, DI', f'\tKMOVW DI, K{1+i}']
    for j in range(p):
        o += [f'\tLEAQ {span-1-j}(AX), SI', '\tXORL DI, DI', '\tCMPQ SI, win+40(FP)', '\tCMOVQLT CX, DI', f'\tKMOVW DI, K{1+p+j}']
    o += ['\tMOVQ in+0(FP), R8', '\tMOVQ nq+104(FP), R15']
    o.append(f'{name}_chunk:')
    o += ['\tMOVQ R8, DI', '\tSUBQ in+0(FP), DI', '\tMOVQ bias+80(FP), AX', '\tVMOVUPS (AX)(DI*1), Z31',
          '\tMOVQ w+72(FP), R11', '\tADDQ DI, R11']
    o += [f'\tVMOVAPS Z31, Z{a}' for a in range(npix)]
    o += ['\tXORQ CX, CX', f'{name}_tap:',
          '\tMOVQ (R9)(CX*8), SI', '\tLEAQ (R8)(SI*4), SI', '\tADDQ R13, SI',
          '\tMOVQ woff+16(FP), DI', '\tMOVQ (DI)(CX*8), DI', '\tLEAQ (R11)(DI*4), DI']
    for kx in range(k):
        o.append(f'\tVMOVUPS {kxaddr("DI", kx)}, Z{16+kx}')
    xaddr = ['(SI)', '(SI)(R12*1)', '(SI)(R12*2)', '(SI)(R10*1)']
    for x in range(span):
        if x % 4 == 0 and x > 0:
            o.append('\tLEAQ (SI)(R12*4), SI')
        zin = f'Z{21 + x % 2}'
        if x < p:
            o.append(f'\tVMOVUPS.Z {xaddr[x % 4]}, K{1+x}, {zin}')
        elif x >= span-p:
            o.append(f'\tVMOVUPS.Z {xaddr[x % 4]}, K{1+p+span-1-x}, {zin}')
        else:
            o.append(f'\tVMOVUPS {xaddr[x % 4]}, {zin}')
        # The next chunk's 16 channels of this pixel are the next line.
        o.append(f'\tPREFETCHT0 64{xaddr[x % 4]}')
        for kx in range(k):
            if (x-kx) % s == 0 and 0 <= (x-kx)//s < npix:
                o.append(f'\tVFMADD231PS {zin}, Z{16+kx}, Z{(x-kx)//s}')
    o += ['\tINCQ CX', '\tCMPQ CX, DX', f'\tJLT {name}_tap']
    o += act_block(f'{name}_a', [f'Z{a}' for a in range(npix)], T='Z23')
    o.append('\tMOVQ R14, AX')
    for a in range(npix):
        if a % 4 == 0 and a > 0:
            o.append('\tLEAQ (AX)(R12*4), AX')
        o.append(f'\tVMOVUPS Z{a}, {["(AX)", "(AX)(R12*1)", "(AX)(R12*2)", "(AX)(R10*1)"][a % 4]}')
    o += ['\tADDQ $64, R8', '\tADDQ $64, R14', '\tDECQ R15', f'\tJNZ {name}_chunk']
    # R14 moved on by cs4 (one pixel) over the chunks: on to the next
    # group, npix-1 pixels further; R13 and x0 by npix*s input columns.
    o += advance('R14', 'R12', npix-1) + advance('R13', 'BX', npix)
    o += [f'\tADDQ ${npix*s}, x0+32(FP)']
    return o

SIG_FULL = '(in *float32, roff *int, woff *int, nt int, x0 int, win int, step int, n int, cs int, w *float32, bias *float32, out *float32, act int, nq int)'

def dwFullZ(name, k, s):
    # A whole depthwise output row of n >= 4 pixels, k x k taps, horizontal
    # stride s: groups of 16, 14, 8, 7 and 4 pixels, and if pixels remain a
    # last group of 4 that ends at the row's end (recomputing up to 3
    # pixels bit for bit). roff[t] points at input column x0 = -(k-1)/2 of tap
    # row t, so it may point before the row; win is the input width.
    o=[f'// func {name}{SIG_FULL}',
       f'TEXT ·{name}(SB), NOSPLIT, $0-112']
    o += ['\tMOVQ roff+8(FP), R9','\tMOVQ nt+24(FP), DX','\tMOVQ step+48(FP), BX','\tSHLQ $2, BX',
          '\tMOVQ cs+64(FP), R12','\tSHLQ $2, R12','\tLEAQ (R12)(R12*2), R10']
    o += act_consts('i') + ['\tMOVQ out+88(FP), R14','\tXORQ R13, R13']
    # Groups of 14 and 7 fit PP-LCNet's 14- and 7-pixel rows at 224x224
    # exactly (8 + 4 + a stepped-back 4 computed 16 pixels for 14, and
    # groups of 4 have too few FMA chains to hide their latency).
    groups = (16, 14, 8, 7, 4)
    for i, g in enumerate(groups):
        nxt = f'g{groups[i+1]}' if i+1 < len(groups) else 'tail'
        o.append(f'{name}_g{g}:')
        o += [f'\tCMPQ n+56(FP), ${g}', f'\tJLT {name}_{nxt}']
        o += fullGroup(f'{name}_p{g}', k, s, g)
        o += [f'\tSUBQ ${g}, n+56(FP)', f'\tJMP {name}_g{g}']
    # 1-3 pixels left: step back so that a group of 4 ends at the last.
    o.append(f'{name}_tail:')
    o += ['\tMOVQ n+56(FP), AX', '\tTESTQ AX, AX', f'\tJZ {name}_done',
          '\tNEGQ AX', '\tADDQ $4, AX',  # AX = 4 - left: pixels to step back
          '\tMOVQ AX, SI', '\tIMULQ R12, SI', '\tSUBQ SI, R14',
          '\tMOVQ AX, SI', '\tIMULQ BX, SI', '\tSUBQ SI, R13',
          f'\tIMULQ ${s}, AX', '\tSUBQ AX, x0+32(FP)',
          '\tMOVQ $4, n+56(FP)', f'\tJMP {name}_g4']
    o += [f'{name}_done:', '\tVZEROUPPER','\tRET']
    return '\n'.join(o)+'\n'


PIX_BLOCKS = (8, 4, 3, 2, 1)

def dwPixZ(name):
    # Few pixels (a border pixel, an interior remainder) over many chunks:
    # each pass computes one pixel for up to 8 chunks of 16 channels, so 8
    # independent FMA chains hide the FMA latency that a single pixel and
    # chunk (one chain of k*k dependent FMAs) is bound by. R11 is the
    # chunk offset in bytes, R13 the pixel's input offset, R14 its output.
    o=[f'// func {name}{SIG_ROW}',
       f'TEXT ·{name}(SB), NOSPLIT, $0-112']
    o += ['\tMOVQ in+0(FP), R8','\tMOVQ roff+8(FP), R9','\tMOVQ woff+16(FP), R10','\tMOVQ step+48(FP), BX','\tSHLQ $2, BX',
          '\tMOVQ cs+64(FP), R12','\tSHLQ $2, R12']
    o += act_consts('i') + ['\tMOVQ out+88(FP), R14','\tXORQ R13, R13','\tMOVQ n+56(FP), R15',
          # nq's slot becomes the chunks' extent in bytes, R11's bound
          '\tMOVQ nq+104(FP), AX', '\tSHLQ $6, AX', '\tMOVQ AX, nq+104(FP)']
    o.append(f'{name}_pixel:')
    o.append('\tXORQ R11, R11')
    o.append(f'{name}_block:')
    o += ['\tMOVQ nq+104(FP), AX', '\tSUBQ R11, AX']
    for b in PIX_BLOCKS[:-1]:
        o += [f'\tCMPQ AX, ${64*b}', f'\tJGE {name}_b{b}']
    o.append(f'\tJMP {name}_b1')
    for b in PIX_BLOCKS:
        L=f'{name}_b{b}'
        o.append(f'{L}:')
        o += ['\tMOVQ bias+80(FP), AX', '\tADDQ R11, AX']
        o += [f'\tVMOVUPS {64*j}(AX), Z{j}' for j in range(b)]
        o += ['\tXORQ DX, DX', f'{L}_tap:',
              '\tMOVQ (R9)(DX*8), SI', '\tLEAQ (R8)(SI*4), SI', '\tADDQ R13, SI', '\tADDQ R11, SI',
              '\tMOVQ (R10)(DX*8), DI', '\tSHLQ $2, DI', '\tADDQ w+72(FP), DI', '\tADDQ R11, DI',
              '\tMOVQ kx0+32(FP), AX', '\tIMULQ R12, AX', '\tADDQ AX, SI', '\tADDQ AX, DI',
              '\tMOVQ kx1+40(FP), CX', '\tSUBQ kx0+32(FP), CX', f'{L}_kx:']
        for j in range(b):
            o += [f'\tVMOVUPS {64*j}(DI), Z{16+j}', f'\tVFMADD231PS {64*j}(SI), Z{16+j}, Z{j}']
        o += ['\tADDQ R12, SI', '\tADDQ R12, DI', '\tDECQ CX', f'\tJNZ {L}_kx',
              '\tINCQ DX', '\tCMPQ DX, nt+24(FP)', f'\tJLT {L}_tap']
        o += act_block(f'{L}_a', [f'Z{j}' for j in range(b)], T='Z9')
        o += ['\tLEAQ (R14)(R11*1), AX']
        o += [f'\tVMOVUPS Z{j}, {64*j}(AX)' for j in range(b)]
        o += [f'\tADDQ ${64*b}, R11', '\tCMPQ R11, nq+104(FP)', f'\tJLT {name}_block', f'\tJMP {name}_next']
    o.append(f'{name}_next:')
    o += ['\tADDQ R12, R14', '\tADDQ BX, R13', '\tDECQ R15', f'\tJNZ {name}_pixel', '\tVZEROUPPER', '\tRET']
    return '\n'.join(o)+'\n'


STEM_GROUPS = {1: (16, 4, 1), 2: (12, 4, 1), 3: (8, 4, 1)}

def stemIntZ(name, nc):
    # The stem's interior runs (all 3 horizontal taps inside) for nc = 1-3
    # chunks of 16 output channels (PP-LCNet's stems have 16, 32 or 48):
    # a group of pixels keeps all its chunks' accumulators (<= 24), so each
    # input value is broadcast once for all nc chunks, and the 3 taps of a
    # tap row are unrolled. Z24-Z26 hold a tap's weights, Z27 the broadcast;
    # the activation constants are loaded into Z24-Z30 after the taps.
    o=[f'// func {name}{SIG_ROW}',
       f'TEXT ·{name}(SB), NOSPLIT, $0-112']
    o += ['\tMOVQ in+0(FP), R8','\tMOVQ roff+8(FP), R9','\tMOVQ woff+16(FP), R10','\tMOVQ step+48(FP), BX','\tSHLQ $2, BX',
          '\tLEAQ (BX)(BX*2), R11','\tMOVQ cs+64(FP), R12','\tSHLQ $2, R12',
          '\tMOVQ out+88(FP), R14','\tXORQ R13, R13','\tMOVQ n+56(FP), R15']
    groups = STEM_GROUPS[nc]
    for gi, P in enumerate(groups):
        L = f'{name}_g{P}'
        nxt = f'{name}_g{groups[gi+1]}' if gi + 1 < len(groups) else f'{name}_done'
        acc = lambda i, j: f'Z{i*nc+j}'
        o.append(f'{L}:')
        o += [f'\tCMPQ R15, ${P}', f'\tJLT {nxt}']
        o += ['\tMOVQ bias+80(FP), AX'] + [f'\tVMOVUPS {64*j}(AX), Z{24+j}' for j in range(nc)]
        for i in range(P):
            for j in range(nc):
                o.append(f'\tVMOVAPS Z{24+j}, {acc(i, j)}')
        o += ['\tXORQ DX, DX', f'{L}_tap:',
              '\tMOVQ (R9)(DX*8), SI', '\tLEAQ (R8)(SI*4), SI', '\tADDQ R13, SI',
              '\tMOVQ (R10)(DX*8), DI', '\tSHLQ $2, DI', '\tADDQ w+72(FP), DI']
        for kx in range(3):
            widx = {0: '(DI)', 1: '(DI)(R12*1)', 2: '(DI)(R12*2)'}[kx]
            for j in range(nc):
                o.append(f'\tVMOVUPS {64*j}{widx}, Z{24+j}')
            for i in range(P):
                if i % 4 == 0:
                    o.append('\tMOVQ SI, AX' if i == 0 else '\tLEAQ (AX)(BX*4), AX')
                a = f'{4*kx}' + {0: '(AX)', 1: '(AX)(BX*1)', 2: '(AX)(BX*2)', 3: '(AX)(R11*1)'}[i % 4]
                if nc == 1:
                    o.append(f'\tVFMADD231PS.BCST {a}, Z24, {acc(i, 0)}')
                else:
                    o.append(f'\tVBROADCASTSS {a}, Z27')
                    for j in range(nc):
                        o.append(f'\tVFMADD231PS Z{24+j}, Z27, {acc(i, j)}')
        o += ['\tINCQ DX', '\tCMPQ DX, nt+24(FP)', f'\tJLT {L}_tap']
        o += act_consts('i')
        o += act_block(f'{L}_a', [acc(i, j) for i in range(P) for j in range(nc)], T='Z31')
        o += ['\tLEAQ (R12)(R12*2), CX']
        for i in range(P):
            if i % 4 == 0:
                o.append('\tMOVQ R14, AX' if i == 0 else '\tLEAQ (AX)(R12*4), AX')
            b = {0: '(AX)', 1: '(AX)(R12*1)', 2: '(AX)(R12*2)', 3: '(AX)(CX*1)'}[i % 4]
            for j in range(nc):
                o.append(f'\tVMOVUPS {acc(i, j)}, {64*j}{b}')
        o += [f'\tIMUL3Q ${P}, R12, AX', '\tADDQ AX, R14', f'\tIMUL3Q ${P}, BX, AX', '\tADDQ AX, R13', f'\tSUBQ ${P}, R15', f'\tJMP {L}']
    o += [f'{name}_done:', '\tVZEROUPPER', '\tRET']
    return '\n'.join(o)+'\n'


C={'three':'0x40400000','six':'0x40c00000','sixth':'0x3e2aaaab','slope':'0x3e2aaaad','half':'0x3f000000','one':'0x3f800000','zero':'0x00000000'}
def constsY():
    o=''
    for k,v in C.items():
        for i in range(8):
            o+=f'DATA a{k}<>+{4*i}(SB)/4, ${v}\n'
        o+=f'GLOBL a{k}<>(SB), RODATA|NOPTR, $32\n'
    return o
def actY(name, regs, T, actsrc):
    o=[f'\tMOVQ {actsrc}, AX','\tCMPQ AX, $1',f'\tJEQ {name}_relu','\tCMPQ AX, $2',f'\tJEQ {name}_hswish','\tCMPQ AX, $3',f'\tJEQ {name}_hsig',f'\tJMP {name}_store',f'{name}_relu:']
    o += [f'\tVMAXPS azero<>(SB), {z}, {z}' for z in regs]
    o += [f'\tJMP {name}_store', f'{name}_hswish:']
    for z in regs:
        o += [f'\tVADDPS athree<>(SB), {z}, {T}', f'\tVMAXPS azero<>(SB), {T}, {T}', f'\tVMINPS asix<>(SB), {T}, {T}', f'\tVMULPS {T}, {z}, {T}', f'\tVMULPS asixth<>(SB), {T}, {z}']
    o += [f'\tJMP {name}_store', f'{name}_hsig:']
    for z in regs:
        o += [f'\tVMULPS aslope<>(SB), {z}, {z}', f'\tVADDPS ahalf<>(SB), {z}, {z}', f'\tVMAXPS azero<>(SB), {z}, {z}', f'\tVMINPS aone<>(SB), {z}, {z}']
    o.append(f'{name}_store:')
    return o

def rowaddrY(r):
    b=('SI','R8')[r//4]; i=r%4
    return {0:f'({b})',1:f'({b})(BX*1)',2:f'({b})(BX*2)',3:f'({b})(R10*1)'}[i]
def caddrY(r):
    b=('DI','SI')[r//4]; i=r%4
    return {0:f'({b})',1:f'({b})(R12*1)',2:f'({b})(R12*2)',3:f'({b})(R13*1)'}[i]
def tileY(name, rows):
    acc=lambda r,h: f'Y{2*r+h}'
    o=[f'// func {name}(k int, a *float32, lda int, p *float32, bias *float32, c *float32, ldc int, act int)', f'TEXT ·{name}(SB), NOSPLIT, $0-64']
    o += ['\tMOVQ k+0(FP), CX','\tMOVQ a+8(FP), SI','\tMOVQ lda+16(FP), BX','\tMOVQ p+24(FP), DX','\tSHLQ $2, BX','\tLEAQ (BX)(BX*2), R10','\tLEAQ (SI)(BX*4), R8']
    for r in range(rows):
        for h in range(2): o.append(f'\tVXORPS {acc(r,h)}, {acc(r,h)}, {acc(r,h)}')
    o += [f'{name}_loop:','\tVMOVUPS (DX), Y12','\tVMOVUPS 32(DX), Y13']
    for r in range(rows):
        o.append(f'\tVBROADCASTSS {rowaddrY(r)}, Y14')
        o.append(f'\tVFMADD231PS Y12, Y14, {acc(r,0)}')
        o.append(f'\tVFMADD231PS Y13, Y14, {acc(r,1)}')
    o += ['\tADDQ $4, SI','\tADDQ $4, R8','\tADDQ $64, DX','\tDECQ CX',f'\tJNZ {name}_loop','\tMOVQ bias+32(FP), AX']
    for r in range(rows):
        o += [f'\tVADDPS (AX), {acc(r,0)}, {acc(r,0)}', f'\tVADDPS 32(AX), {acc(r,1)}, {acc(r,1)}']
    o += actY(f'{name}_a', [acc(r,h) for r in range(rows) for h in range(2)], 'Y15', 'act+56(FP)')
    o += ['\tMOVQ c+40(FP), DI','\tMOVQ ldc+48(FP), R12','\tSHLQ $2, R12','\tLEAQ (R12)(R12*2), R13','\tLEAQ (DI)(R12*4), SI']
    for r in range(rows):
        o += [f'\tVMOVUPS {acc(r,0)}, {caddrY(r)}', f'\tVMOVUPS {acc(r,1)}, 32{caddrY(r)}']
    o += ['\tVZEROUPPER','\tRET']
    return '\n'.join(o)+'\n'

def gemvY(name, half):
    es = 32 if half else 64
    def ld(off, y):
        return f'\tVCVTPH2PS {off}(DX), {y}' if half else f'\tVMOVUPS {off}(DX), {y}'
    h2 = 16 if half else 32
    o=[f'// func {name}(k int, a *float32, p *{"uint16" if half else "float32"}, np int, bias *float32, c *float32, act int)', f'TEXT ·{name}(SB), NOSPLIT, $0-56']
    o += ['\tMOVQ p+16(FP), DX','\tMOVQ np+24(FP), R9','\tMOVQ bias+32(FP), R10','\tMOVQ c+40(FP), DI']
    o.append(f'{name}_panel:')
    o += ['\tMOVQ k+0(FP), CX','\tMOVQ a+8(FP), SI'] + [f'\tVXORPS Y{z}, Y{z}, Y{z}' for z in range(8)]
    o += ['\tCMPQ CX, $4', f'\tJLT {name}_tail', f'{name}_k4:']
    for u in range(4):
        o += [f'\tVBROADCASTSS {4*u}(SI), Y15', ld(u*es, 'Y12'), ld(u*es+h2, 'Y13'), f'\tVFMADD231PS Y12, Y15, Y{2*u}', f'\tVFMADD231PS Y13, Y15, Y{2*u+1}']
    o += ['\tADDQ $16, SI', f'\tADDQ ${4*es}, DX', '\tSUBQ $4, CX', '\tCMPQ CX, $4', f'\tJGE {name}_k4', f'{name}_tail:', '\tTESTQ CX, CX', f'\tJZ {name}_sum', f'{name}_k1:']
    o += ['\tVBROADCASTSS (SI), Y15', ld(0,'Y12'), ld(h2,'Y13'), '\tVFMADD231PS Y12, Y15, Y0', '\tVFMADD231PS Y13, Y15, Y1', '\tADDQ $4, SI', f'\tADDQ ${es}, DX', '\tDECQ CX', f'\tJNZ {name}_k1']
    o += [f'{name}_sum:', '\tVADDPS Y2, Y0, Y0', '\tVADDPS Y4, Y0, Y0', '\tVADDPS Y6, Y0, Y0', '\tVADDPS Y3, Y1, Y1', '\tVADDPS Y5, Y1, Y1', '\tVADDPS Y7, Y1, Y1',
          '\tVADDPS (R10), Y0, Y0', '\tVADDPS 32(R10), Y1, Y1']
    o += actY(f'{name}_a', ['Y0','Y1'], 'Y15', 'act+48(FP)')
    o += ['\tVMOVUPS Y0, (DI)', '\tVMOVUPS Y1, 32(DI)', '\tADDQ $64, DI', '\tADDQ $64, R10', '\tDECQ R9', f'\tJNZ {name}_panel', '\tVZEROUPPER', '\tRET']
    return '\n'.join(o)+'\n'

def rowY(name, scalar):
    # chunks of 8 channels (one ymm); nq counts them.
    o=[f'// func {name}(in *float32, roff *int, woff *int, nt int, kx0 int, kx1 int, step int, n int, cs int, w *float32, bias *float32, out *float32, act int, nq int)', f'TEXT ·{name}(SB), NOSPLIT, $0-112']
    o += ['\tMOVQ roff+8(FP), R9', '\tMOVQ woff+16(FP), R10', '\tMOVQ step+48(FP), BX', '\tSHLQ $2, BX', '\tLEAQ (BX)(BX*2), R11', '\tMOVQ cs+64(FP), R12', '\tSHLQ $2, R12']
    o.append(f'{name}_chunk:')
    o += ['\tMOVQ in+0(FP), R8', '\tMOVQ out+88(FP), R14', '\tMOVQ bias+80(FP), AX', '\tVMOVUPS (AX), Y11', '\tXORQ R13, R13', '\tMOVQ n+56(FP), R15']
    def taps(label, nacc):
        t=['\tXORQ DX, DX', f'{label}_tap:', '\tMOVQ (R9)(DX*8), SI', '\tLEAQ (R8)(SI*4), SI', '\tADDQ R13, SI', '\tMOVQ kx0+32(FP), AX',
           '\tMOVQ (R10)(DX*8), DI', '\tSHLQ $2, DI', '\tADDQ w+72(FP), DI']
        if scalar:
            t += ['\tLEAQ (SI)(AX*4), SI', '\tIMULQ R12, AX', '\tADDQ AX, DI']
        else:
            t += ['\tIMULQ R12, AX', '\tADDQ AX, SI', '\tADDQ AX, DI']
        t += ['\tMOVQ kx1+40(FP), CX', '\tSUBQ kx0+32(FP), CX', f'{label}_kx:', '\tVMOVUPS (DI), Y8']
        addrs=['(SI)','(SI)(BX*1)','(SI)(BX*2)','(SI)(R11*1)','(AX)','(AX)(BX*1)','(AX)(BX*2)','(AX)(R11*1)']
        if nacc>4: t.append('\tLEAQ (SI)(BX*4), AX')
        for a in range(nacc):
            if scalar:
                t += [f'\tVBROADCASTSS {addrs[a]}, Y10', f'\tVFMADD231PS Y8, Y10, Y{a}']
            else:
                t.append(f'\tVFMADD231PS {addrs[a]}, Y8, Y{a}')
        t += ['\tADDQ $4, SI' if scalar else '\tADDQ R12, SI', '\tADDQ R12, DI', '\tDECQ CX', f'\tJNZ {label}_kx', '\tINCQ DX', '\tCMPQ DX, nt+24(FP)', f'\tJLT {label}_tap']
        return t
    o += [f'{name}_oct:', '\tCMPQ R15, $8', f'\tJLT {name}_quad'] + [f'\tVMOVAPS Y11, Y{a}' for a in range(8)]
    o += taps(f'{name}_o', 8) + actY(f'{name}_oa', [f'Y{a}' for a in range(8)], 'Y9', 'act+96(FP)')
    o += ['\tLEAQ (R12)(R12*2), AX', '\tVMOVUPS Y0, (R14)', '\tVMOVUPS Y1, (R14)(R12*1)', '\tVMOVUPS Y2, (R14)(R12*2)', '\tVMOVUPS Y3, (R14)(AX*1)', '\tLEAQ (R14)(R12*4), R14',
          '\tVMOVUPS Y4, (R14)', '\tVMOVUPS Y5, (R14)(R12*1)', '\tVMOVUPS Y6, (R14)(R12*2)', '\tVMOVUPS Y7, (R14)(AX*1)', '\tLEAQ (R14)(R12*4), R14', '\tLEAQ (R13)(BX*8), R13',
          '\tSUBQ $8, R15', f'\tJMP {name}_oct']
    o += [f'{name}_quad:', '\tCMPQ R15, $4', f'\tJLT {name}_single'] + [f'\tVMOVAPS Y11, Y{a}' for a in range(4)]
    o += taps(f'{name}_q', 4) + actY(f'{name}_qa', ['Y0','Y1','Y2','Y3'], 'Y9', 'act+96(FP)')
    o += ['\tVMOVUPS Y0, (R14)', '\tVMOVUPS Y1, (R14)(R12*1)', '\tVMOVUPS Y2, (R14)(R12*2)', '\tLEAQ (R12)(R12*2), AX', '\tVMOVUPS Y3, (R14)(AX*1)', '\tLEAQ (R14)(R12*4), R14', '\tLEAQ (R13)(BX*4), R13', '\tSUBQ $4, R15']
    o += [f'{name}_single:', '\tTESTQ R15, R15', f'\tJZ {name}_next', f'{name}_one:', '\tVMOVAPS Y11, Y0']
    o += taps(f'{name}_s', 1) + actY(f'{name}_sa', ['Y0'], 'Y9', 'act+96(FP)')
    o += ['\tVMOVUPS Y0, (R14)', '\tADDQ R12, R14', '\tADDQ BX, R13', '\tDECQ R15', f'\tJNZ {name}_one', f'{name}_next:']
    if not scalar: o.append('\tADDQ $32, in+0(FP)')
    o += ['\tADDQ $32, w+72(FP)', '\tADDQ $32, bias+80(FP)', '\tADDQ $32, out+88(FP)', '\tDECQ nq+104(FP)', f'\tJNZ {name}_chunk', '\tVZEROUPPER', '\tRET']
    return '\n'.join(o)+'\n'



KCONST = {'zero': '0x00000000', 'three': '0x40400000', 'six': '0x40c00000', 'sixth': '0x3e2aaaab',
          'slope': '0x3e2aaaad', 'half': '0x3f000000', 'one': '0x3f800000'}


def scalar_consts(prefix):
    o = ''
    for k, v in KCONST.items():
        o += f'DATA {prefix}{k}<>+0(SB)/4, ${v}\nGLOBL {prefix}{k}<>(SB), RODATA|NOPTR, $4\n'
    return o


HEAD = '//go:build amd64 && !purego\n\n// Code generated by internal/kernel/gen/asm.py; DO NOT EDIT.\n\n'
MRZ, MRY = 14, 6
SIG_TILE = '(k int, a *float32, lda int, p *float32, bias *float32, c *float32, ldc int, act int)'
SIG_TILE_PF = '(k int, a *float32, lda int, p *float32, bias *float32, c *float32, ldc int, act int, pf unsafe.Pointer, pfstep int)'
SIG_ROW = '(in *float32, roff *int, woff *int, nt int, kx0 int, kx1 int, step int, n int, cs int, w *float32, bias *float32, out *float32, act int, nq int)'


def main(out):
    # AVX-512
    s = HEAD + '#include "textflag.h"\n\n' + scalar_consts('k') + scalar_consts('r') + scalar_consts('i') + '\n'
    decl = ''
    for np in (1, 2):
        for r in range(1, MRZ + 1):
            n = f'tile{r}x{16*np}Z'
            s += tile(n, np, r) + '\n'
            decl += f'//go:noescape\nfunc {n}{SIG_TILE}\n\n'
        n = f'tile{MRZ}x{16*np}ZP'
        s += tile(n, np, MRZ, pf=True) + '\n'
        decl += f'//go:noescape\nfunc {n}{SIG_TILE_PF}\n\n'
    s += gemvZ('gemvF32Z', False) + '\n' + gemvZ('gemvF16Z', True) + '\n'
    rz = rowZ('dwRowZ', False) + '\n' + rowZ('stemRowZ', True)
    for k in ('three', 'six', 'sixth', 'slope', 'half', 'one'):
        rz = rz.replace(f'k{k}<>', f'r{k}<>')
    s += rz + '\n' + dwPixZ('dwPixZ') + ''.join('\n' + dwFullZ(f'dwFull{k}s{st}Z', k, st) for k in (3, 5) for st in (1, 2)) + ''.join('\n' + stemIntZ(f'stemInt{nc}Z', nc) for nc in (1, 2, 3))
    open(f'{out}/avx512_amd64.s', 'w').write(s)
    for k in (3, 5):
        for st in (1, 2):
            decl += f'//go:noescape\nfunc dwFull{k}s{st}Z{SIG_FULL}\n\n'
    for n in ('gemvF32Z', 'gemvF16Z'):
        t = 'uint16' if 'F16' in n else 'float32'
        decl += f'//go:noescape\nfunc {n}(k int, a *float32, p *{t}, np int, bias *float32, c *float32, act int)\n\n'
    for n in ('dwRowZ', 'stemRowZ', 'dwPixZ', 'stemInt1Z', 'stemInt2Z', 'stemInt3Z'):
        decl += f'//go:noescape\nfunc {n}{SIG_ROW}\n\n'
    t16 = ', '.join(f'tile{r}x16Z' for r in range(1, MRZ + 1))
    t32 = ', '.join(f'tile{r}x32Z' for r in range(1, MRZ + 1))
    open(f'{out}/avx512_amd64.go', 'w').write(HEAD + f"""package kernel

import "unsafe"

// mrZ is the AVX-512 tile height: 14 rows x 32 columns is 28 zmm
// accumulators, 2 weight vectors and 1 broadcast, and 14 divides the pixel
// count of every PP-LCNet stage at 224x224 but the last (49 = 3x14 + 7).
const mrZ = {MRZ}

{decl}type tileAsm func{SIG_TILE}

// tiles16Z[r] and tiles32Z[r] compute r rows (1 <= r <= mrZ) of 16 or 32
// columns.
var (
	tiles16Z = [...]tileAsm{{nil, {t16}}}
	tiles32Z = [...]tileAsm{{nil, {t32}}}
)
""")
    # AVX2
    s = HEAD + '#include "textflag.h"\n\n' + constsY() + '\n'
    decl = ''
    for r in range(1, MRY + 1):
        n = f'tile{r}x16Y'
        s += tileY(n, r) + '\n'
        decl += f'//go:noescape\nfunc {n}{SIG_TILE}\n\n'
    s += gemvY('gemvF32Y', False) + '\n' + gemvY('gemvF16Y', True) + '\n' + rowY('dwRowY', False) + '\n' + rowY('stemRowY', True)
    open(f'{out}/avx2_amd64.s', 'w').write(s)
    for n in ('gemvF32Y', 'gemvF16Y'):
        t = 'uint16' if 'F16' in n else 'float32'
        decl += f'//go:noescape\nfunc {n}(k int, a *float32, p *{t}, np int, bias *float32, c *float32, act int)\n\n'
    for n in ('dwRowY', 'stemRowY'):
        decl += f'//go:noescape\nfunc {n}{SIG_ROW}\n\n'
    t16 = ', '.join(f'tile{r}x16Y' for r in range(1, MRY + 1))
    open(f'{out}/avx2_amd64.go', 'w').write(HEAD + f"""package kernel

// mrY is the AVX2 tile height: 6 rows x 16 columns is 12 ymm accumulators,
// 2 weight vectors and 1 broadcast of the 16 registers.
const mrY = {MRY}

{decl}// tiles16Y[r] computes r rows (1 <= r <= mrY) of 16 columns.
var tiles16Y = [...]tileAsm{{nil, {t16}}}
""")


if __name__ == '__main__':
    import os
    import sys
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
