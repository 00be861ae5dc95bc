#!/usr/bin/env python3
"""Exclusive-C14N vectors for crates/federation/tests/saml_c14n_vectors.rs.

Random small documents (namespaces declared, redeclared and undeclared,
prefixed and xml: attributes, escapes, CDATA, comments, processing
instructions) canonicalized by libxml2 (`xmllint --exc-c14n`, package
`libxml2-utils`): an oracle independent of Mayfly's canonicalizer. Output:
crates/federation/testdata/saml/c14n-vectors.json. Rerun:

    python3 crates/testkit/saml/c14n_vectors.py
"""
import json
import os
import random
import subprocess
import tempfile

random.seed(7)
URIS = ["urn:a", "urn:b", "urn:c", "http://x.test/ns"]
PREFIXES = ["a", "b", "p", "ns1"]
TEXTS = ["plain", "a&amp;b", "&lt;tag&gt;", "quote\"s", "apos'", "cr&#13;lf", "tab\there", "<![CDATA[<cdata & stuff>]]>", "é ü 中", "  spaced  "]
ATTRV = ["v", "a&amp;b", "&lt;", "&quot;q&quot;", "t&#9;n&#10;r&#13;", "x>y", "é"]


def element(depth, declared):
    """A random element; `declared` maps prefixes in scope to URIs."""
    decls = []
    local_decl = dict(declared)
    for _ in range(random.randint(0, 2)):
        p = random.choice(PREFIXES + [""])
        u = random.choice(URIS + ([""] if p == "" else []))
        if p == "":
            decls.append(f'xmlns="{u}"')
            local_decl[""] = u
        else:
            decls.append(f'xmlns:{p}="{u}"')
            local_decl[p] = u
    usable = [p for p in local_decl if p]
    prefix = random.choice(usable + [None, None]) if usable else None
    name = (prefix + ":" if prefix else "") + random.choice(["e", "f", "g", "Name"])
    attrs = []
    used = set()
    for _ in range(random.randint(0, 3)):
        ap = random.choice(usable + [None, None, "xml"])
        local = random.choice(["id", "z", "A", "b", "lang"])
        if ap == "xml":
            local = random.choice(["lang", "space"])
            aname = "xml:" + local
            key = ("xml", local)
        elif ap:
            aname = f"{ap}:{local}"
            key = (local_decl[ap], local)
        else:
            aname = local
            key = ("", local)
        if key in used or aname in [a.split("=")[0] for a in attrs]:
            continue
        used.add(key)
        v = random.choice(ATTRV) if local != "space" else random.choice(["preserve", "default"])
        attrs.append(f'{aname}="{v}"')
    kids = []
    if depth < 4:
        for _ in range(random.randint(0, 3)):
            r = random.random()
            if r < 0.45:
                kids.append(element(depth + 1, local_decl))
            elif r < 0.75:
                kids.append(random.choice(TEXTS))
            elif r < 0.88:
                kids.append("<!--" + random.choice([" c ", "x-y", ""]) + "-->")
            else:
                kids.append("<?pi " + random.choice(["data", "", "a b"]) + "?>")
    open_tag = "<" + " ".join([name] + decls + attrs)
    if not kids and random.random() < 0.5:
        return open_tag + "/>"
    return open_tag + ">" + "".join(kids) + f"</{name}>"

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "../../federation/testdata/saml/c14n-vectors.json"))


def main():
    vectors = []
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "doc.xml")
        while len(vectors) < 150:
            doc = element(0, {})
            with open(path, "w") as handle:
                handle.write(doc)
            result = subprocess.run(["xmllint", "--exc-c14n", path], capture_output=True)
            if result.returncode != 0:
                continue
            vectors.append({"input": doc, "exc_c14n_with_comments": result.stdout.decode()})
    with open(OUT, "w") as handle:
        json.dump(vectors, handle, ensure_ascii=False, indent=0)
        handle.write("\n")
    print(f"wrote {len(vectors)} vectors to {OUT}")


if __name__ == "__main__":
    main()
