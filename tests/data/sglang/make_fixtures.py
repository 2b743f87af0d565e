#!/usr/bin/env python3
"""make_fixtures.py - small real torch.save files shaped as SGLang's expert
distribution recorder dumps them (python/sglang/srt/eplb/expert_distribution.py:
_StatAccumulator.dump and _DetailAccumulator.dump), plus hostile .pt files
for tests/data/bad/pt/.

Made with torch 2.15.0 (CPU) under Python 3.11; run from the repository root:
    /work/venv/bin/python tests/data/sglang/make_fixtures.py
Deterministic: values come from random.Random seeds, not torch's RNG.
Neither the product nor the test suite needs Python.
"""
import io
import os
import pickle
import random
import struct
import zipfile
import zlib

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
BAD = os.path.join(HERE, "..", "bad", "pt")

# a DeepSeek-like toy: 5 decoder layers, the first 2 dense; 8 logical experts
# on 10 physical slots (experts 0 and 1 have a second replica), EP 2 ranks
DECODER_LAYERS, FIRST_DENSE, E, P = 5, 2, 8, 10
PHYS_TO_LOG = [0, 1, 2, 3, 0, 4, 5, 6, 7, 1]


def p2l_map():
    """last_physical_to_logical_map [L, P] as SGLang keeps it (int64)."""
    return torch.tensor([PHYS_TO_LOG] * DECODER_LAYERS, dtype=torch.int64)


def save(obj, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(obj, path)


def write_loads(path, mats):
    """The expected loads as a moeplace load file ([S][L][E]), dense layers dropped."""
    with open(path, "w") as f:
        f.write('{"format": "moeplace-loads", "version": 1, "logical_count": %s}\n' % (mats,))


def stat_dump(path, rows_filled, buffer_rows, seed):
    """stat mode: logical_count int32 [buffer rows, decoder layers, E] from a
    circular buffer: rows_filled lists the ring rows written, oldest first."""
    rnd = random.Random(seed)
    lc = torch.zeros((buffer_rows, DECODER_LAYERS, E), dtype=torch.int32)
    for b in rows_filled:
        for layer in range(FIRST_DENSE, DECODER_LAYERS):
            for _ in range(40):  # 20 tokens x top-2
                lc[b, layer, min(int(rnd.expovariate(0.5)), E - 1)] += 1
    save(dict(rank=0, logical_count=lc, average_utilization_rate_over_window=0.75), path)
    write_loads(path[:-3] + "_expected.json",
                [[lc[b, layer].tolist() for layer in range(FIRST_DENSE, DECODER_LAYERS)] for b in rows_filled])


def detail_records(rank, passes, seed, per_token):
    rnd = random.Random(seed)
    records = []
    for fpid, ntok in passes:
        topk = torch.full((DECODER_LAYERS, ntok, 8), -1, dtype=torch.int32)
        gpc = torch.zeros((DECODER_LAYERS, P), dtype=torch.int32)
        for layer in range(FIRST_DENSE, DECODER_LAYERS):
            for t in range(ntok):
                a = rnd.randrange(E)
                b = (a + 1 + rnd.randrange(E - 1)) % E
                for j, logical in enumerate((a, b)):  # top-2, padded with -1 to 8
                    slots = [s for s, lg in enumerate(PHYS_TO_LOG) if lg == logical]
                    phys = slots[(t + j) % len(slots)]
                    topk[layer, t, j] = phys
                    gpc[layer, phys] += 1
        rec = dict(forward_pass_id=fpid, rank=rank, gatherer_key="primary")
        if per_token:
            rec.update(
                input_ids=[rnd.randrange(32000) for _ in range(ntok)],
                positions=list(range(ntok)),
                extend_seq_lens=[ntok] if ntok else None,
                forward_mode=1 if ntok > 2 else 2,
                misc_objects=[],
                topk_ids_of_layer=topk[:, :ntok, :].clone(),
                global_physical_count=gpc,
            )
        else:
            rec.update(global_physical_count=gpc)
        records.append(rec)
    return dict(records=records, last_physical_to_logical_map=p2l_map())


def zip_with(path, members, compress=zipfile.ZIP_STORED):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=compress) as z:
        for name, data in members:
            z.writestr(name, data)


def evil(path, pkl):
    zip_with(path, [("archive/data.pkl", pkl), ("archive/version", b"3\n"), ("archive/byteorder", b"little")])


class Reduce:
    """An object whose unpickling calls fn(*args) in Python."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def main():
    # ---- good dumps ----
    # ring of 6 rows: written 4, 5, 0, 1 (oldest first); rows 2 and 3 unfilled
    stat_dump(os.path.join(HERE, "stat.pt"), [4, 5, 0, 1], 6, 1)
    stat_dump(os.path.join(HERE, "stat_full.pt"), [0, 1, 2], 3, 2)
    tok, pas = [], []
    # rank 1's files first: the reader must order by forward_pass_id, then rank
    for rank in (1, 0):
        passes = [(7, 3), (8, 2), (9, 1)] if rank == 0 else [(9, 2), (7, 2), (8, 0)]
        d = detail_records(rank, passes, 10 + rank, True)
        save(d, os.path.join(HERE, "per_token", "expert_distribution_recorder_1750000000.5_%d.pt" % rank))
        tok += d["records"]
        d = detail_records(rank, passes, 20 + rank, False)
        save(d, os.path.join(HERE, "per_pass", "expert_distribution_recorder_1750000001.5_%d.pt" % rank))
        pas += d["records"]
    # expected per_token trace: moeplace csv rows (steps = passes by id, rank 0's tokens first)
    with open(os.path.join(HERE, "per_token_expected.csv"), "w") as f:
        f.write("step,token,layer,e0,e1,rank\n")
        for step, fpid in enumerate(sorted({r["forward_pass_id"] for r in tok})):
            t0 = 0
            for r in sorted((r for r in tok if r["forward_pass_id"] == fpid), key=lambda r: r["rank"]):
                ids = r["topk_ids_of_layer"]
                for t in range(ids.shape[1]):
                    for layer in range(FIRST_DENSE, DECODER_LAYERS):
                        lg = [PHYS_TO_LOG[int(x)] for x in ids[layer, t].tolist() if x != -1]
                        f.write("%d,%d,%d,%d,%d,%d\n" % (step, t0, layer - FIRST_DENSE, lg[0], lg[1], r["rank"]))
                    t0 += 1
    # expected per_pass loads: ranks summed per pass, physical folded onto logical
    mats = []
    for fpid in sorted({r["forward_pass_id"] for r in pas}):
        m = [[0] * E for _ in range(FIRST_DENSE, DECODER_LAYERS)]
        for r in pas:
            if r["forward_pass_id"] != fpid:
                continue
            for layer in range(FIRST_DENSE, DECODER_LAYERS):
                for phys, c in enumerate(r["global_physical_count"][layer].tolist()):
                    m[layer - FIRST_DENSE][PHYS_TO_LOG[phys]] += c
        mats.append(m)
    write_loads(os.path.join(HERE, "per_pass_expected.json"), mats)

    # ---- hostile files: each must be refused with exit 1 and one line ----
    import builtins
    import posix

    evil(os.path.join(BAD, "os_system.pt"), b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.")
    evil(os.path.join(BAD, "posix_system.pt"), pickle.dumps(Reduce(posix.system, ("true",)), protocol=2))
    evil(os.path.join(BAD, "builtins_eval.pt"), pickle.dumps(Reduce(builtins.eval, ("1+1",)), protocol=2))
    evil(os.path.join(BAD, "subprocess.pt"), b"\x80\x02csubprocess\ncheck_output\n](X\x04\x00\x00\x00truee\x85R.")
    # REDUCE applied to the result of a REDUCE (OrderedDict() called again)
    evil(os.path.join(BAD, "nested_reduce.pt"), b"\x80\x02ccollections\nOrderedDict\n)R)R.")
    evil(os.path.join(BAD, "memo_get_huge.pt"), b"\x80\x02}q\x00j\xf0\xff\xff\xff.")
    evil(os.path.join(BAD, "memo_put_huge.pt"), b"\x80\x02}r\x00\xca\x9a\x3b.")
    evil(os.path.join(BAD, "deep_marks.pt"), b"\x80\x02" + b"(" * 1000 + b"N.")
    evil(os.path.join(BAD, "bad_opcode.pt"), b"\x80\x02}I12\n.")  # INT (text) is not torch.save's
    # a valid stat dump cut in half
    data = open(os.path.join(HERE, "stat.pt"), "rb").read()
    os.makedirs(BAD, exist_ok=True)
    open(os.path.join(BAD, "truncated.pt"), "wb").write(data[: len(data) // 2])
    # the logical_count storage shorter than the tensor
    src = zipfile.ZipFile(os.path.join(HERE, "stat.pt"))
    members = [(i.filename, src.read(i.filename)) for i in src.infolist()]
    members = [(n, d[:100] if n.endswith("/data/0") else d) for n, d in members]
    zip_with(os.path.join(BAD, "short_storage.pt"), members)
    # a duplicate entry name
    with zipfile.ZipFile(os.path.join(BAD, "duplicate.pt"), "w") as z:
        for n, d in [(i.filename, src.read(i.filename)) for i in src.infolist()]:
            z.writestr(n, d)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z.writestr(src.infolist()[0].filename, src.read(src.infolist()[0].filename))
    # a ZIP bomb: 4 MiB of zeros deflated to a few KiB (ratio ~1000)
    zip_with(os.path.join(BAD, "zip_bomb.pt"), [("archive/data.pkl", b"\0" * (4 << 20))], zipfile.ZIP_DEFLATED)
    # an entry marked encrypted (general purpose flag bit 0 in both headers)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    b = bytearray(buf.getvalue())
    for sig, flag_off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = b.find(sig)
        b[i + flag_off] |= 1
    open(os.path.join(BAD, "encrypted.pt"), "wb").write(bytes(b))
    # a tensor reaching beyond its storage (size claims more than numel)
    lc = torch.zeros((6, DECODER_LAYERS, E), dtype=torch.int32)
    buf = io.BytesIO()
    torch.save(dict(logical_count=lc), buf)
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    ms = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    # shape (6, 5, 8) -> (60, 5, 8) in the pickle: the tensor claims 2400 elements of a 240-element storage
    ms = [(n, d.replace(b"K\x06K\x05K\x08\x87", b"K<K\x05K\x08\x87") if n.endswith("data.pkl") else d) for n, d in ms]
    zip_with(os.path.join(BAD, "tensor_beyond_storage.pt"), ms)
    # not a dump: a plain tensor
    save(torch.zeros(3, dtype=torch.int32), os.path.join(BAD, "not_a_dump.pt"))
    print("torch", torch.__version__)


if __name__ == "__main__":
    main()
