#!/usr/bin/python3
# Generates parse.jsonl, golden vectors for gvariant.Parse and ParseAs, from
# real GLib's g_variant_parse.
#
# Produced with: /usr/bin/python3 gvariant/testdata/gen_parse_golden.py
# (Debian 12, python3-gi, GLib 2.74.6). One JSON object per line:
#
#   {"text": T, "as": type or null, "ok": true, "type": result type,
#    "hex": serialized value (GLib, little-endian host)}
#   {"text": T, "as": type or null, "ok": false, "error": GLib's message}
#
# for hand-written texts (every construct, every error) and random token
# soup built from the same pieces (fixed seed).
import json
import os
import random

from gi.repository import GLib

OUT = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261206)

CASES = [
    # basics and defaults
    "true", "false", "5", "-5", "+5", "0", "-0", "007", "0x1f", "0X1F", "-0x10", "2147483647",
    "2147483648", "-2147483648", "-2147483649", "99999999999999999999", "1.5", ".5", "5.", "1e3",
    "1E3", "-1e-3", "0x1e", "inf", "nan", "-inf", "+inf", "1e400", "1e-400", "-", "+", ".",
    "0x", "0xg", "08", "1-2", "5e", "-nan", "+nan", "NaN", "-NAN", "double -NAN", "--1", "-+1",
    "+-1", "1e-400", "4.9e-324", "2.4e-324", "2.2250738585072014e-308", "-infinity", "Infinity",
    "double infinity", "0x1p-2", "double 0x1p-2", "double 0x1p3", "1.7976931348623157e308", "'str'", '"str"', "'it''s'", '"it\'s"', "'a\\nb\\tc'",
    "'\\u00e9'", "'\\U0001F600'", "'\\u0000'", "'\\u12'", "'\\uD800'", "'\\x41'", "'\\q'",
    "'back\\\\slash'", "'line\\\ncont'", "'unterminated", "'\\", "b'bytes'", 'b"bytes"',
    "b'a\\0b'", "b'\\101\\102'", "b'\\777'", "b'\\n\\t'", "b''", "b'unterminated",
    # annotations
    "byte 5", "byte 0x100", "byte -1", "int16 -32768", "int16 32768", "int16 -32769",
    "uint16 65535", "uint16 65536", "int32 5", "uint32 4294967295", "uint32 4294967296",
    "int64 -9223372036854775808", "int64 9223372036854775808", "uint64 18446744073709551615",
    "uint64 18446744073709551616", "uint64 -1", "handle 3", "double 5", "double 0x10",
    "double 1", "string 'x'", "objectpath '/a/b'", "objectpath 'a'", "signature 'a{sv}'",
    "signature 'a{'", "boolean true", "boolean 1", "int32 'x'", "int32 1.5", "@t 5", "@y 5",
    "@d 5", "@s 'x'", "@o '/'", "@g 'i'", "@as []", "@a{sv} {}", "@mi nothing", "@mi 5",
    "@mmi 5", "@mmi nothing", "@mmi just nothing", "@ms 'x'", "@ay b'x'", "@ay [1, 2]",
    "@aay [b'x', [1]]", "@(is) (1, 'x')", "@{sv} {'a', <1>}", "@* 5", "@a 5", "@ i 5", "@x",
    "@ii 5", "@v <5>", "@v 5", "@mv nothing", "unknownkw 5", "null", "n", "j", "justice",
    "Nothing", "True",
    # arrays
    "[]", "[1]", "[1, 2, 3]", "[1, 2.5]", "[1.5, 2]", "['a', 'b']", "[1, 'a']", "[[1], [2, 3]]",
    "[[], [1]]", "[[1], []]", "[[]]", "[@ay [], b'x']", "[b'x', [1]]", "[nothing, just 5]",
    "[just 5, nothing]", "[nothing]", "[5, nothing]", "[nothing, 5]", "[<1>, <'a'>]",
    "[(1, 'a'), (2, 'b')]", "[(1,), (2.5,)]", "[{1: 'a'}, {2: 'b'}]", "[{'a', 1}, {'b', 2}]",
    "[1, 2,]", "[1 2]", "[", "[1,", "[true, false]", "[true, 1]", "[int32 1, 2]",
    "[uint64 1, 2]", "[1, uint64 2]", "[byte 1, int16 2]", "[@mi 5, 6]", "[5, @mi 6]",
    "[objectpath '/', 'x']", "['x', objectpath '/']", "[signature 'i', objectpath '/']",
    "[[1, 2], [3.5]]", "[(1, [2]), (3, [])]", "[@as [], ['x']]",
    # tuples
    "()", "(1,)", "(1)", "(1, 2)", "(1, 2,)", "(1, 'a', true)", "((1,), (2, 3))", "(,)",
    "(1 2)", "(", "(1,", "(nothing,)", "(@mi nothing,)", "(just 5,)",
    # dictionaries and entries
    "{}", "{1: 'a'}", "{'a': 1}", "{'a': 1, 'b': 2}", "{'a': 1, 'b': 'x'}", "{'a': 'x', 'b': 1}",
    "{1: 'a', 2.5: 'b'}", "{'a', 1}", "{'a', 1, 2}", "{'a': 1,}", "{<1>: 2}", "{[1]: 2}",
    "{(1,): 2}", "{true: 1}", "{'a': <1>, 'b': <'x'>}", "{'a': [], 'b': [1]}",
    "{'a': [1], 'b': []}", "{'a': nothing}", "{'a': just 5, 'b': nothing}", "{1: 2",
    "{1 2}", "{'k': {'n': 1}}", "{@s 'a': 1}", "{int64 1: 'a', 2: 'b'}", "{1: 'a', int64 2: 'b'}",
    "{just 1: 2}", "{nothing: 2}",
    # variants and maybes
    "<5>", "<'x'>", "<[1, 2]>", "<[]>", "<@as []>", "<<5>>", "<nothing>", "<@mi nothing>",
    "<just 'x'>", "<(1, <2>)>", "<5", "just 5", "just just 5", "just nothing", "nothing",
    "just", "just [1]", "just []", "just <1>",
    # white space and trailing input
    "  5  ", "\t[1,\n2]\n", "5 6", "5,", "[1] x", "",
    # nesting
    "[" * 10 + "1" + "]" * 10, "<" * 20 + "1" + ">" * 20, "[" * 127 + "]" * 127,
    "[" * 128 + "]" * 128, "[" * 129 + "]" * 129, "<" * 130 + "1" + ">" * 130,
    "(" * 127 + "1," + ",)" * 126 + ")",
]

TYPED = [
    ("[]", "as"), ("[]", "ai"), ("5", "t"), ("5", "y"), ("5", "d"), ("5", "mi"), ("5", "mmi"),
    ("nothing", "mi"), ("nothing", "i"), ("'x'", "ms"), ("'x'", "o"), ("'/x'", "o"),
    ("'x'", "g"), ("'ai'", "g"), ("[1, 2]", "ay"), ("[1, 2]", "ad"), ("[1, 2]", "at"),
    ("b'x'", "ay"), ("b'x'", "as"), ("{}", "a{sv}"), ("{}", "{sv}"), ("{'a', <1>}", "{sv}"),
    ("{'a': <1>}", "a{sv}"), ("{'a': <1>}", "{sv}"), ("{'a', <1>}", "a{sv}"), ("(1, 2)", "(ii)"),
    ("(1, 2)", "(i)"), ("(1,)", "(ii)"), ("<5>", "v"), ("5", "v"), ("@i 5", "t"), ("int32 5", "x"),
    ("[nothing]", "ami"), ("[5]", "ami"), ("just 5", "i"), ("1.5", "i"), ("true", "i"),
    ("[[]]", "aas"), ("{1: 'a'}", "a{ts}"), ("{1: 'a'}", "a{ss}"), ("-1", "t"), ("-1", "u"),
    ("256", "y"), ("'x'", "mms"), ("just 'x'", "mms"), ("just just 'x'", "mms"),
    ("[{'a': 1}]", "aa{sx}"), ("(1, ('a', [true]))", "(i(sab))"), ("'\\u00e9'", "s"),
]

PIECES = ["1", "-2", "2.5", "0x10", "'s'", "\"d\"", "b'b'", "true", "nothing", "just", "int32",
          "uint64", "@as", "@mi", "[", "]", "(", ")", "{", "}", "<", ">", ",", ":", " ", "inf",
          "'\\u00e9'", "@a{sv}", "byte", "objectpath", "'/a'", "signature", "'a'", "{}", "[]"]


def rand_text():
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12)))


def rand_nested(depth=0):
    r = rng.random()
    if depth > 3 or r < 0.35:
        return rng.choice(["1", "-7", "0x1f", "2.5", "'x'", "\"y\"", "true", "b'z'", "nothing",
                           "uint32 7", "@mi 3", "@as []", "byte 9", "objectpath '/o'"])
    if r < 0.5:
        return "[" + ", ".join(rand_nested(depth + 1) for _ in range(rng.randint(0, 3))) + "]"
    if r < 0.65:
        n = rng.randint(1, 3)
        return "(" + ", ".join(rand_nested(depth + 1) for _ in range(n)) + ("," if n == 1 else "") + ")"
    if r < 0.75:
        return "<" + rand_nested(depth + 1) + ">"
    if r < 0.82:
        return "just " + rand_nested(depth + 1)
    if r < 0.92:
        return "{" + ", ".join(rand_nested(depth + 1) + ": " + rand_nested(depth + 1)
                               for _ in range(rng.randint(1, 3))) + "}"
    return "{" + rand_nested(depth + 1) + ", " + rand_nested(depth + 1) + "}"


def rand_maybes(depth=0):
    # Arrays mixing maybes, nothing, numbers and typed values: the corners
    # of GLib's pattern coalescing.
    r = rng.random()
    if depth > 3 or r < 0.4:
        return rng.choice(["0", "1.5", "nothing", "just 0", "just nothing", "@mx 1", "@mmx nothing",
                           "@mmi 2", "'s'", "just 's'", "@ms nothing", "[]", "@ami []", "@ammx []",
                           "<1>", "(1,)", "{1: 2}", "{}"])
    n = rng.randint(1, 4)
    if r < 0.8:
        return "[" + ", ".join(rand_maybes(depth + 1) for _ in range(n)) + "]"
    if r < 0.9:
        return "just " + rand_maybes(depth + 1)
    return "(" + ", ".join(rand_maybes(depth + 1) for _ in range(n)) + ("," if n == 1 else "") + ")"


def run(text, as_type):
    rec = {"text": text, "as": as_type}
    try:
        v = GLib.Variant.parse(GLib.VariantType.new(as_type) if as_type else None, text, None, None)
    except GLib.Error as e:
        rec["ok"] = False
        rec["error"] = e.message
        return rec
    if v is None:
        # GLib builds a string that is not UTF-8 (a surrogate escape) and
        # g_variant_new_string refuses it: no value and no error.
        rec["ok"] = False
        rec["error"] = "(no value: invalid UTF-8)"
        return rec
    rec["ok"] = True
    rec["type"] = v.get_type_string()
    rec["hex"] = bytes(v.get_data_as_bytes().get_data()).hex()
    return rec


def main():
    recs = [run(t, None) for t in CASES]
    recs += [run(t, ty) for t, ty in TYPED]
    for _ in range(600):
        recs.append(run(rand_text(), None))
    for _ in range(900):
        recs.append(run(rand_nested(), None))
    for _ in range(1500):
        recs.append(run(rand_maybes(), None))
    recs.append(run("[@ammx [], [0, nothing]]", None))
    with open(os.path.join(OUT, "parse.jsonl"), "w") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    ok = sum(r["ok"] for r in recs)
    print(f"{len(recs)} texts, {ok} parsed, {len(recs) - ok} errors")


main()
