#!/usr/bin/env python3
"""An independent check of a ree-ledger proof bundle, written from docs/format.md alone.

It checks integrity (layout, every record hash, chains, cross-lot links, global order, the
claimed head) and every ed25519 signature (with libsodium, whose accepted set is ree-ledger's),
not the domain rules or the policy: that is `ree-verify`'s job. It exists to show that the byte
layout is specified well enough to verify in another language.

    pip install -r docs/requirements.txt        # blake3, pynacl
    python3 docs/verify_bundle.py lot.bundle     # exit 0 intact, 3 not authentic
    python3 docs/verify_bundle.py --vectors v.json   # "number accept|reject" per ed25519 vector
    python3 docs/verify_bundle.py lot.bundle --witness-vkey witness.vkey --quorum 1
        # and N distinct pinned witnesses cosigned its checkpoint (tlog-cosignature v1)
"""
import base64
import bisect
import hashlib
import json
import struct
import sys

try:
    import blake3
    import nacl.exceptions
    import nacl.signing
except ImportError as e:
    print(f"missing Python package ({e}): pip install pynacl blake3", file=sys.stderr)
    sys.exit(4)

CONTEXT = "ree-ledger 2026-11 event record v1"
ZERO = bytes(32)


class Bad(Exception):
    pass


class Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        if self.p + n > len(self.b):
            raise Bad(f"truncated at byte {self.p}")
        v = self.b[self.p:self.p + n]
        self.p += n
        return v

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("<H", self.take(2))[0]

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]


REGISTRY = bytes.fromhex("00000000000080008000000000000001")


def parse_record(b):
    r = Reader(b)
    if r.u8() != 1:
        raise Bad("record version")
    rec = {"lot": r.take(16), "seq": r.u64(), "gseq": r.u64(), "prev": r.take(32)}
    r.take(8)  # recorded_at
    rec["registry"] = r.take(32)
    flag = r.u8()
    if flag == 1:
        rec["link"] = (r.take(16), r.u64(), r.take(32))
    elif flag == 0:
        rec["link"] = None
    else:
        raise Bad("link flag")
    body = r.take(r.u32())
    scheme = r.u8()
    if scheme != 1:
        raise Bad("unsigned record" if scheme == 0 else "signature scheme")
    key, sig = r.take(32), r.take(64)
    if not signature_ok(key, body, sig):
        raise Bad(f"bad signature by key {key.hex()}")
    if r.p != len(b):
        raise Bad("trailing bytes in record")
    rec["commit"] = commitment(body, rec)
    return rec


BODY_VERSION = 2  # docs/format.md, "Event body"
COMMITTING_KINDS = (4, 5, 7)  # input_charged, output_produced, shipment


def commitment(body, rec):
    """The head the signed body commits this record to ("The order commitment"), or None: a
    charge's input_head for its record on the input lot, else expected_head for the record on the
    committed lot (a charge's campaign, any other event's first record)."""
    if len(body) < 27:
        raise Bad("event body too short")
    if body[0] != BODY_VERSION:
        raise Bad(f"body version {body[0]}")
    kind, flag = body[1], body[26]
    if flag not in (0, 1):
        raise Bad("expected_head flag")
    expected = body[27:59] if flag == 1 else None
    start = 59 if flag == 1 else 27
    if kind in COMMITTING_KINDS and expected is None:
        raise Bad(f"an event of kind {kind} must commit to a head (expected_head)")
    if kind == 4:
        campaign, inp = body[start:start + 16], body[start + 16:start + 32]
        if rec["lot"] == inp:
            return body[-32:]
        return expected if rec["lot"] == campaign else None
    return expected if rec["link"] is None else None


def signature_ok(key, body, sig):
    """libsodium's crypto_sign_open: canonical A and R, neither of small order, S < L, cofactorless."""
    try:
        nacl.signing.VerifyKey(key).verify(body, sig)
        return True
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        return False


def vectors(path):
    """Prints this script's verdict on every ed25519 vector of a JSON file (C2SP CCTV format)."""
    for v in json.load(open(path)):
        ok = signature_ok(bytes.fromhex(v["key"]), v["msg"].encode(), bytes.fromhex(v["sig"]))
        print(v["number"], "accept" if ok else "reject")


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 2.1.3.2 over SHA-256: is `leaf` (already leaf-hashed) at `index` of `root`?"""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_multi(size, root, leaves, proof):
    """docs/format.md, "Bundle versions 3 and 4": one multi-proof that each (index, leaf hash)
    of `leaves` (indices strictly increasing) is in the tree of `size` leaves with `root`. The
    RFC 6962 recursion MTH(D[lo:hi]), left subtree first; a subtree holding none of the leaves
    is the next hash of the proof, which must be used whole."""
    idx = [i for i, _ in leaves]
    if not leaves or idx != sorted(set(idx)) or idx[-1] >= size:
        return False
    used = 0

    def mth(a, b, lo, hi):  # leaves[a:b] are exactly those in [lo, hi)
        nonlocal used
        if a == b:
            if used == len(proof):
                raise Bad("multi-proof too short")
            used += 1
            return proof[used - 1]
        if hi - lo == 1:
            return leaves[a][1]
        mid = lo + (1 << ((hi - lo - 1).bit_length() - 1))
        cut = bisect.bisect_left(idx, mid, a, b)
        return hashlib.sha256(b"\x01" + mth(a, cut, lo, mid) + mth(cut, b, mid, hi)).digest()

    try:
        r = mth(0, len(leaves), 0, size)
    except Bad:
        return False
    return used == len(proof) and r == root


def parse_vkey(text):
    """A C2SP note verifier key `name+hex(key id)+base64(type || public key)`; returns
    (name, key id, type, public key) after checking the key id (docs/format.md)."""
    name, kid, b64 = text.strip().split("+", 2)  # a name has no "+"; base64 may
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 33:
        raise ValueError("verifier key: 1 type byte and 32 key bytes expected")
    want = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if bytes.fromhex(kid) != want:
        raise ValueError("verifier key: key id does not match")
    return name, want, raw[0], raw[1:]


def checkpoint(note):
    """(size, root) of a signed checkpoint note, parsed as strictly as ree-verify does
    (c2sp.org/tlog-checkpoint and signed-note): UTF-8 without control characters but newlines,
    text lines, an empty line, at least one signature line; the size in decimal ASCII digits
    without a leading zero, below 2^64; the root in canonical base64 of 32 bytes."""
    try:
        text = note.decode()
    except UnicodeDecodeError:
        raise Bad("checkpoint note is not UTF-8")
    if any(ord(c) < 32 and c != "\n" or ord(c) == 127 for c in text):
        raise Bad("checkpoint note holds a control character")
    body, sep, sigs = text.partition("\n\n")
    if not sep or not sigs.endswith("\n") or not any(
        line.startswith("\u2014 ") for line in sigs[:-1].split("\n")
    ):
        raise Bad("checkpoint note has no signature line")
    lines = body.split("\n")
    if len(lines) < 3 or not lines[0]:
        raise Bad("checkpoint note: origin, size and root lines expected")
    size_text, root_text = lines[1], lines[2]
    if not (size_text.isascii() and size_text.isdigit()) or (
        len(size_text) > 1 and size_text[0] == "0"
    ):
        raise Bad("checkpoint size")
    size = int(size_text)
    if size >= 1 << 64:
        raise Bad("checkpoint size")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError:
        raise Bad("checkpoint root")
    if len(root) != 32 or base64.b64encode(root).decode() != root_text:
        raise Bad("checkpoint root")
    return size, root


def cosigners(note, witnesses, quorum):
    """The pinned witnesses (type 0x04 keys) whose cosignature/v1 on the checkpoint verifies;
    a pinned witness's bad cosignature, or fewer than `quorum`, is not authentic."""
    text, _, block = note.rpartition("\n\n")
    text += "\n"
    ok = set()
    for line in block.split("\n"):
        if not line.startswith("\u2014 "):
            continue
        name, b64 = line[2:].split(" ", 1)
        raw = base64.b64decode(b64, validate=True)
        for wname, kid, typ, pub in witnesses:
            if typ != 4 or wname != name or raw[:4] != kid:
                continue
            sig = raw[4:]
            if len(sig) != 72:
                raise Bad(f"cosignature by {name}: 72 bytes expected")
            t = struct.unpack(">Q", sig[:8])[0]
            msg = f"cosignature/v1\ntime {t}\n".encode() + text.encode()
            if not signature_ok(pub, msg, sig[8:]):
                raise Bad(f"cosignature by {name} does not verify")
            ok.add((name, kid))  # distinct pinned keys count, as in ree-verify
    if len(ok) < quorum:
        raise Bad(f"checkpoint cosigned by {len(ok)} of the pinned witnesses, quorum {quorum}")
    return sorted(name for name, _ in ok)


def verify(data, witnesses=(), quorum=0):
    """A version 3 or 4 bundle: the inner bundle, then the log's checkpoint and one inclusion
    proof per full record (3) or one multi-proof of all (4) (docs/format.md, "Bundle versions 3
    and 4"). The checkpoint's signature is not checked here (ree-verify --log-vkey does); the
    proofs are, against its root."""
    r = Reader(data)
    if r.take(8) != b"REEBNDL\0":
        raise Bad("bad magic")
    version = r.u16()
    if version not in (3, 4):
        if quorum:
            raise Bad(f"checkpoint cosigned by 0 of the pinned witnesses, quorum {quorum}")
        return verify_inner(data, [])
    inner = r.take(r.u32())
    note_len = r.u32()
    if note_len > 65536:
        raise Bad("checkpoint note longer than 65536 bytes")
    note = r.take(note_len)
    size, root = checkpoint(note)
    note = note.decode()
    if witnesses:
        cosigners(note, witnesses, quorum)
    records = []
    n, h = verify_inner(inner, records)
    leaves = [(gseq - 1, hashlib.sha256(b"\x00" + rh).digest()) for gseq, rh in records]
    if version == 4:
        proof = [r.take(32) for _ in range(r.u32())]
        if not verify_multi(size, root, leaves, proof):
            raise Bad(f"the records are not all in the checkpoint of {size} records")
    elif r.u32() != len(records):
        raise Bad("one inclusion proof per record expected")
    for i, (index, leaf) in enumerate(leaves if version == 3 else []):
        proof = [r.take(32) for _ in range(r.u8())]
        if not verify_inclusion(index, size, leaf, proof, root):
            raise Bad(f"record {i} (global {index + 1}) is not in the checkpoint of {size} records")
    if r.p != len(data):
        raise Bad("trailing bytes after the last proof")
    return n, h


def verify_inner(data, records):
    r = Reader(data)
    if r.take(8) != b"REEBNDL\0":
        raise Bad("bad magic")
    version = r.u16()
    if version not in (1, 2):
        raise Bad("bundle version")
    lot, head_seq, head = r.take(16), r.u64(), r.take(32)
    count = r.u32()
    heads = {}  # lot -> (seq, hash)
    last_gseq = 0
    tag = 1
    for i in range(count):
        tag = r.u8() if version == 2 else 1
        if tag == 2:  # withheld registry record: seq, prev, hash; it must follow the registry head
            seq, prev, h = r.u64(), r.take(32), r.take(32)
            if REGISTRY not in heads or (seq, prev) != (heads[REGISTRY][0] + 1, heads[REGISTRY][1]):
                raise Bad(f"entry {i}: withheld registry record does not follow the registry head")
            heads[REGISTRY] = (seq, h)
            continue
        if tag != 1:
            raise Bad(f"entry {i}: unknown entry tag {tag}")
        raw = r.take(r.u32())
        rec = parse_record(raw)
        h = blake3.blake3(raw, derive_key_context=CONTEXT).digest()
        if rec["gseq"] <= last_gseq:
            raise Bad(f"record {i}: global order")
        last_gseq = rec["gseq"]
        prior = heads.get(rec["lot"])
        if prior is None:
            if rec["seq"] != 0 or rec["prev"] != ZERO:
                raise Bad(f"record {i}: lot {rec['lot'].hex()} does not start at its genesis")
        elif rec["seq"] != prior[0] + 1 or rec["prev"] != prior[1]:
            raise Bad(f"record {i}: chain of lot {rec['lot'].hex()} broken at seq {rec['seq']}")
        if rec["commit"] is not None and rec["commit"] != rec["prev"]:
            raise Bad(f"record {i}: lot {rec['lot'].hex()}: the signer committed to expected head "
                      f"{rec['commit'].hex()}, but the record follows {rec['prev'].hex()}")
        if rec["registry"] != heads.get(REGISTRY, (None, ZERO))[1]:
            raise Bad(f"record {i}: does not name the participant registry's head")
        if rec["link"] is not None:
            other, seq, lh = rec["link"]
            if heads.get(other) != (seq, lh):
                raise Bad(f"record {i}: link to lot {other.hex()} seq {seq} is not that lot's head")
        heads[rec["lot"]] = (rec["seq"], h)
        records.append((rec["gseq"], h))
    if r.p != len(data):
        raise Bad("trailing bytes after the last record")
    if tag == 2:
        raise Bad("the bundle ends with a withheld registry record")
    if heads.get(lot) != (head_seq, head):
        raise Bad("the bundle does not end at the head it claims")
    return count, head.hex()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--vectors"]:
        vectors(sys.argv[2])
        sys.exit(0)
    args, witnesses, quorum = sys.argv[1:], [], None
    while "--witness-vkey" in args:
        i = args.index("--witness-vkey")
        witnesses.append(parse_vkey(open(args[i + 1]).read()))
        del args[i : i + 2]
    if "--quorum" in args:
        i = args.index("--quorum")
        quorum = int(args[i + 1])
        del args[i : i + 2]
    if quorum is None:
        quorum = 1 if witnesses else 0
    if quorum and not witnesses:
        print("--quorum needs --witness-vkey FILE", file=sys.stderr)
        sys.exit(2)
    try:
        n, h = verify(open(args[0], "rb").read(), witnesses, quorum)
        print(f"intact: {n} records, head {h}")
    except (Bad, OSError, IndexError, ValueError) as e:
        print(f"NOT AUTHENTIC: {e}")
        sys.exit(3)
