#!/usr/bin/python3
# Generates golden vectors for the gvariant package from real GLib.
#
# Produced with: /usr/bin/python3 gvariant/testdata/gen_golden.py
# (Debian 12, python3-gi, GLib 2.74.6). Output files:
#
#   golden.jsonl  one JSON object per line:
#                 {"type": T, "hex": serialized bytes (GLib, little-endian host),
#                  "print": g_variant_print(value, FALSE)}
#                 for random values of random types (fixed seed).
#   normal.jsonl  {"type": T, "hex": bytes, "normal": g_variant_is_normal_form,
#                  "canonical": normal and g_variant_get_normal_form reproduces
#                  the bytes exactly}
#                 for mutated serializations (byte flips, truncations, ...).
#   boundary.jsonl {"recipe": R, "body": B, "width": W, "normal": ..., "canonical": ...}
#                 hand-built serializations whose body size B is near a
#                 framing-offset width boundary, with offsets W bytes wide
#                 (rebuilt by boundaryData in golden_test.go).
#   large.jsonl   {"recipe": name, "len": n, "sha256": hex} for large values
#                 that the Go test rebuilds from the recipe (2- and 4-byte
#                 framing offsets).
import hashlib
import json
import os
import random
import sys

from gi.repository import GLib

V = GLib.Variant
VT = GLib.VariantType
rng = random.Random(20240613)
OUT = os.path.dirname(os.path.abspath(__file__))

BASIC = "ybnqiuxthdsog"


def rand_type(depth=0):
    r = rng.random()
    if depth >= 4 or r < 0.45:
        return rng.choice(BASIC + "v")
    c = rng.choice("aaam(((({")
    if c == "a":
        if rng.random() < 0.2:
            return "a{" + rng.choice(BASIC) + rand_type(depth + 1) + "}"
        return "a" + rand_type(depth + 1)
    if c == "m":
        return "m" + rand_type(depth + 1)
    if c == "{":
        return "{" + rng.choice(BASIC) + rand_type(depth + 1) + "}"
    n = rng.choice([0, 1, 1, 2, 2, 3, 4])
    return "(" + "".join(rand_type(depth + 1) for _ in range(n)) + ")"


def split_type(s):
    """Split a concatenation of complete types."""
    out = []
    i = 0
    while i < len(s):
        j = end_of_type(s, i)
        out.append(s[i:j])
        i = j
    return out


def end_of_type(s, i):
    c = s[i]
    if c in "am":
        return end_of_type(s, i + 1)
    if c in "({":
        i += 1
        while s[i] not in ")}":
            i = end_of_type(s, i)
        return i + 1
    return i + 1


def rand_string():
    k = rng.choice([0, 1, 3, 8, 20])
    alphabet = ["a", "b", "Z", "0", " ", "'", '"', "\\", "\t", "\n", "\x01", "\x7f",
                "é", "\u00a0", "\u200b", "\u2028", "😀", "\ue000", "\ufffe", "\u0085"]
    return "".join(rng.choice(alphabet) for _ in range(k))


def rand_path():
    n = rng.choice([0, 1, 2, 3])
    if n == 0:
        return "/"
    return "".join("/" + "".join(rng.choice("abcXYZ019_") for _ in range(rng.randint(1, 5))) for _ in range(n))


def rand_sig():
    n = rng.choice([0, 1, 2])
    out = ""
    for _ in range(n):
        t = rand_type(2)
        while "m" in t:
            t = rand_type(2)
        out += t
    return out


def rand_double():
    return rng.choice([0.0, -0.0, 1.0, 0.1, -2.5, 1e20, 1e-5, 123456789.125, float("inf"),
                       float("-inf"), float("nan"), 5e-324, 1.7976931348623157e308,
                       rng.uniform(-1e6, 1e6)])


def rand_value(t, depth=0):
    c = t[0]
    if c == "y":
        return V.new_byte(rng.choice([0, 1, 0x41, 0x7f, 0x80, 0xff, rng.randint(0, 255)]))
    if c == "b":
        return V.new_boolean(rng.random() < 0.5)
    if c == "n":
        return V.new_int16(rng.choice([0, -1, 32767, -32768, rng.randint(-32768, 32767)]))
    if c == "q":
        return V.new_uint16(rng.choice([0, 65535, rng.randint(0, 65535)]))
    if c == "i":
        return V.new_int32(rng.choice([0, -1, 2**31 - 1, -2**31, rng.randint(-2**31, 2**31 - 1)]))
    if c == "h":
        return V.new_handle(rng.choice([0, -1, rng.randint(-2**31, 2**31 - 1)]))
    if c == "u":
        return V.new_uint32(rng.choice([0, 2**32 - 1, rng.randint(0, 2**32 - 1)]))
    if c == "x":
        return V.new_int64(rng.choice([0, -1, 2**63 - 1, -2**63, rng.randint(-2**63, 2**63 - 1)]))
    if c == "t":
        return V.new_uint64(rng.choice([0, 2**64 - 1, rng.randint(0, 2**64 - 1)]))
    if c == "d":
        return V.new_double(rand_double())
    if c == "s":
        return V.new_string(rand_string())
    if c == "o":
        return V.new_object_path(rand_path())
    if c == "g":
        return V.new_signature(rand_sig())
    if c == "v":
        if depth > 6:
            return V.new_variant(V.new_uint32(7))
        ct = rand_type(2)
        return V.new_variant(rand_value(ct, depth + 1))
    if c == "m":
        et = t[1:]
        if rng.random() < 0.3:
            return V.new_maybe(VT.new(et), None)
        return V.new_maybe(None, rand_value(et, depth + 1))
    if c == "a":
        et = t[1:]
        if et == "y" and rng.random() < 0.5:
            # byte strings, sometimes NUL-terminated
            b = bytes(rng.choice([0, 1, 0x27, 0x22, 0x5c, 0x41, 0x61, 0x7f, 0x80, 10, 9, 11, 12, 8, 13])
                      for _ in range(rng.choice([0, 1, 3, 6])))
            if rng.random() < 0.6:
                b = b.replace(b"\0", b"x") + b"\0"
            return V.new_array(VT.new("y"), [V.new_byte(x) for x in b])
        n = rng.choice([0, 0, 1, 2, 3, 5, 9])
        return V.new_array(VT.new(et), [rand_value(et, depth + 1) for _ in range(n)])
    if c == "(":
        members = split_type(t[1:-1])
        return V.new_tuple(*[rand_value(m, depth + 1) for m in members])
    if c == "{":
        k, v = split_type(t[1:-1])
        return V.new_dict_entry(rand_value(k, depth + 1), rand_value(v, depth + 1))
    raise ValueError(t)


def is_normal(t, b):
    x = V.new_from_bytes(VT.new(t), GLib.Bytes.new(b), False)
    return x.is_normal_form()


def is_canonical(t, b):
    # GLib's g_variant_is_normal_form accepts a few serializations that its
    # own serializer never writes: a tuple that has framing offsets but
    # occupies zero bytes (the reader's offset size for size 0 is 0). This
    # package rejects those, so record whether GLib's normal form of the
    # value is byte-identical to the input.
    # (g_variant_get_normal_form returns its argument unchanged when
    # g_variant_is_normal_form says yes, so rebuild the value instead.)
    x = V.new_from_bytes(VT.new(t), GLib.Bytes.new(b), False)
    return rebuild(x).get_data_as_bytes().get_data() == b


def rebuild(x):
    """Deep-copies x through GLib's constructors, so it gets re-serialized."""
    t = x.get_type_string()
    c = t[0]
    if c in BASIC:
        return x
    children = [rebuild(x.get_child_value(i)) for i in range(x.n_children())]
    if c == "v":
        return V.new_variant(children[0])
    if c == "m":
        return V.new_maybe(VT.new(t[1:]), children[0] if children else None)
    if c == "a":
        return V.new_array(VT.new(t[1:]), children)
    if c == "(":
        return V.new_tuple(*children)
    if c == "{":
        return V.new_dict_entry(children[0], children[1])
    raise ValueError(t)


def mutations(b):
    out = []
    if not b:
        return [b"\x00", b"\x01"]
    for _ in range(3):
        i = rng.randrange(len(b))
        x = bytearray(b)
        x[i] = rng.choice([0, 1, 0xff, x[i] ^ (1 << rng.randrange(8)), (x[i] + 1) & 0xff])
        out.append(bytes(x))
    out.append(b[:-1])
    out.append(b + b"\x00")
    out.append(b[1:])
    i = rng.randrange(len(b) + 1)
    out.append(b[:i] + bytes([rng.choice([0, 1])]) + b[i:])
    return [m for m in out if m != b]


def le(x, w):
    return x.to_bytes(w, "little")


def boundary_data(recipe, body, w):
    """Mirrors boundaryData in golden_test.go."""
    h = body // 2
    if recipe == "as1":
        return "as", b"a" * (body - 1) + b"\0" + le(body, w)
    if recipe == "tup2":
        return "((ay)(ay))", b"x" * h + b"y" * (body - h) + le(h, w)
    if recipe == "sas":
        return "(sas)", b"a" * (body - 1) + b"\0" + le(body, w)
    if recipe == "aay2":
        return "aay", b"p" * h + b"q" * (body - h) + le(h, w) + le(body, w)
    raise ValueError(recipe)


def main():
    fixed_types = ["(su)", "(uuuusa(ayay))", "(a(say)a(sayay))", "(uuua(ayay))", "a{sv}", "as", "aay",
                   "(a{sv}aya(say)sstayay)", "mv", "ms", "mmi", "a(ss)", "(ay)", "()", "a()", "(y())",
                   "{sv}", "av", "a{ss}", "(tt)", "(yqd)", "ad", "mab", "maay", "(tuuuyayay)"]
    golden = open(os.path.join(OUT, "golden.jsonl"), "w")
    normal = open(os.path.join(OUT, "normal.jsonl"), "w")
    seen = set()
    count = 0
    types = fixed_types * 8 + [rand_type() for _ in range(1500)]
    for t in types:
        v = rand_value(t)
        data = v.get_data_as_bytes().get_data()
        assert v.is_normal_form()
        key = (t, data)
        if key in seen:
            continue
        seen.add(key)
        golden.write(json.dumps({"type": t, "hex": data.hex(), "print": v.print_(False)}, ensure_ascii=False) + "\n")
        count += 1
        for m in mutations(data):
            nf = bool(is_normal(t, m))
            normal.write(json.dumps({"type": t, "hex": m.hex(), "normal": nf,
                                     "canonical": nf and is_canonical(t, m)}) + "\n")
    golden.close()
    normal.close()

    boundary = open(os.path.join(OUT, "boundary.jsonl"), "w")
    for body in list(range(248, 262)) + list(range(65526, 65542)):
        for w in (1, 2, 4, 8):
            if body >= 256 ** w:
                continue
            for recipe in ("as1", "tup2", "sas", "aay2"):
                t, d = boundary_data(recipe, body, w)
                nf = bool(is_normal(t, d))
                boundary.write(json.dumps({"recipe": recipe, "body": body, "width": w, "normal": nf,
                                           "canonical": nf and is_canonical(t, d)}) + "\n")
    boundary.close()

    large = open(os.path.join(OUT, "large.jsonl"), "w")
    # Recipes mirrored in golden_test.go.
    for name, n, k in [("as", 20, 10), ("as", 30, 10), ("as", 300, 200), ("as", 300, 250), ("as", 70, 1000), ("as", 70000, 1)]:
        v = V.new_array(VT.new("s"), [V.new_string(chr(ord("a") + i % 26) * k) for i in range(n)])
        d = v.get_data_as_bytes().get_data()
        large.write(json.dumps({"recipe": "%s:%d:%d" % (name, n, k), "len": len(d), "sha256": hashlib.sha256(d).hexdigest()}) + "\n")
    for n, k in [(100, 1), (300, 100), (700, 100)]:
        # (sa(say)) with n entries of k-byte names: tuple offsets grow too.
        v = V.new_tuple(V.new_string("x" * k), V.new_array(VT.new("(say)"), [
            V.new_tuple(V.new_string("%0*d" % (k, i)), V.new_array(VT.new("y"), [V.new_byte(i % 256)] * 32))
            for i in range(n)]))
        d = v.get_data_as_bytes().get_data()
        large.write(json.dumps({"recipe": "dirtree:%d:%d" % (n, k), "len": len(d), "sha256": hashlib.sha256(d).hexdigest()}) + "\n")
    large.close()
    print("golden values:", count, file=sys.stderr)


main()
