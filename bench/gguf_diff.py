#!/usr/bin/env python3
"""Compares two GGUF files: whole-file identity, metadata (order, types,
values), tensor order, and each tensor's type, shape and bytes. A dev tool for
checking `leanlm quantize` against llama-quantize (bench/compare_quantize.sh);
it parses GGUF itself and knows the ggml block sizes it needs to.

  python3 bench/gguf_diff.py A.gguf B.gguf
"""
import struct, sys, hashlib

def read_gguf(path):
    b = open(path, 'rb').read()
    pos = 0
    def rd(fmt):
        nonlocal pos
        v = struct.unpack_from('<' + fmt, b, pos); pos += struct.calcsize('<' + fmt); return v[0]
    def rstr():
        nonlocal pos
        n = rd('Q'); s = b[pos:pos+n].decode('utf-8', 'replace'); pos += n; return s
    sizes = {0:'B',1:'b',2:'H',3:'h',4:'I',5:'i',6:'f',7:'?',10:'Q',11:'q',12:'d'}
    def rval(t):
        if t == 8: return rstr()
        if t == 9:
            et = rd('I'); n = rd('Q'); return [rval(et) for _ in range(n)]
        return rd(sizes[t])
    assert b[:4] == b'GGUF'; pos = 4
    ver = rd('I'); nt = rd('Q'); nkv = rd('Q')
    kv = []
    for _ in range(nkv):
        k = rstr(); t = rd('I'); kv.append((k, t, rval(t)))
    align = dict((k, v) for k, t, v in kv).get('general.alignment', 32)
    infos = []
    for _ in range(nt):
        name = rstr(); nd = rd('I'); ne = [rd('Q') for _ in range(nd)]; ty = rd('I'); off = rd('Q')
        infos.append((name, ne, ty, off))
    data = (pos + align - 1) // align * align
    return b, kv, infos, data

def main(a, b):
    A, kva, ia, da = read_gguf(a)
    B, kvb, ib, db = read_gguf(b)
    print(f"files identical: {A == B}  sizes {len(A)} {len(B)}")
    ka = [(k, t, v if not isinstance(v, list) else hashlib.md5(repr(v).encode()).hexdigest()) for k, t, v in kva]
    kb = [(k, t, v if not isinstance(v, list) else hashlib.md5(repr(v).encode()).hexdigest()) for k, t, v in kvb]
    print(f"metadata identical (order, types, values): {ka == kb}")
    if ka != kb:
        sa, sb = set(ka), set(kb)
        for x in ka:
            if x not in sb: print("  only/different in A:", x)
        for x in kb:
            if x not in sa: print("  only/different in B:", x)
        if sa == sb: print("  same entries, different order")
    print(f"tensor order identical: {[i[0] for i in ia] == [i[0] for i in ib]}")
    mb = {i[0]: i for i in ib}
    # row sizes for ggml types (block, bytes)
    ts = {0:(1,4),1:(1,2),30:(1,2),2:(32,18),3:(32,20),6:(32,22),7:(32,24),8:(32,34),10:(256,84),11:(256,110),12:(256,144),
          13:(256,176),14:(256,210),20:(32,18),34:(256,54),35:(256,66)}
    names = {0:'f32',1:'f16',30:'bf16',2:'q4_0',3:'q4_1',6:'q5_0',7:'q5_1',8:'q8_0',10:'q2_K',11:'q3_K',12:'q4_K',13:'q5_K',14:'q6_K',20:'iq4_nl',34:'tq1_0',35:'tq2_0'}
    same = diff = 0
    for name, ne, ty, off in ia:
        if name not in mb: print("  missing in B:", name); diff += 1; continue
        _, ne2, ty2, off2 = mb[name]
        n = 1
        for x in ne: n *= x
        blk, sz = ts[ty]
        nbytes = n // blk * sz
        ba = A[da+off:da+off+nbytes]
        if ty != ty2 or ne != ne2:
            print(f"  {name}: type/shape {names.get(ty,ty)}{ne} vs {names.get(ty2,ty2)}{ne2}"); diff += 1; continue
        bb = B[db+off2:db+off2+nbytes]
        if ba == bb: same += 1
        else:
            nd = sum(1 for x, y in zip(ba, bb) if x != y)
            print(f"  {name} ({names.get(ty,ty)}): {nd} of {nbytes} bytes differ"); diff += 1
    print(f"tensors: {same} identical, {diff} different")

main(sys.argv[1], sys.argv[2])
