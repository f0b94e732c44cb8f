#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# One section-3 man page per public function, from doxygen's XML output (docs/Doxyfile,
# GENERATE_XML): NAME, SYNOPSIS (the header and the prototype), DESCRIPTION, RETURN VALUE (the
# paragraphs of the description that begin with "Return", @return and a tagged paragraph per
# @retval), PARAMETERS (a tagged paragraph per @param), and SEE ALSO (the header's page). Doxygen's own man output puts a function only on
# its header's page (MAN_LINKS makes a .so link to it); this script writes the function's own
# page over that link. Function-like macros with a lower-case name (the plain names of the
# versioned entry points: smtp_client_new...) get a page too.
# Usage: man3.py XML_DIR MAN3_DIR VERSION
import os
import re
import sys
import xml.etree.ElementTree as ET


def esc(text):
    """Escapes text for roff: backslashes, and a leading '.' or "'" of a line."""
    text = text.replace("\\", "\\e")
    return re.sub(r"(?m)^([.'])", r"\\&\1", text)


def inline(node):
    """The text of an element with its inline markup (code in bold), in roff."""
    out = [esc(node.text or "")]
    for child in node:
        if child.tag == "computeroutput":
            out.append("\\fB" + esc("".join(child.itertext())) + "\\fR")
        elif child.tag == "sp":
            out.append(" ")
        elif child.tag in ("itemizedlist", "orderedlist", "programlisting", "simplesect",
                           "parameterlist"):
            pass  # block elements: blocks() handles them
        else:
            out.append(inline(child))
        out.append(esc(child.tail or ""))
    return re.sub(r"[ \t]*\n[ \t]*", "\n", "".join(out)).strip()


def return_items(part):
    """A "Returns" paragraph as roff: its lead, then one indented item per error code it lists
    (SMTP_ERR_X and what causes it), so that each code stands on its own line."""
    starts = [m.start() for m in re.finditer(r"(?:(?<=\s)|^)(?:\\fB)?SMTP_ERR_[A-Z_]+", part)]
    if len(starts) < 2:
        return [".PP\n" + part]
    out = [".PP\n" + part[: starts[0]].rstrip()]
    for a, b in zip(starts, starts[1:] + [len(part)]):
        item = re.sub(r"(?:[;,]|\s+or|\s+and)?\s*$", "", part[a:b].rstrip())
        out.append('.IP "\\(bu" 2\n' + item)
    return out


def blocks(node, sections):
    """The paragraphs of a description as roff, sorted into sections."""
    lines = []
    for para in node.findall("para"):
        text = inline(para)
        # A paragraph is cut before a sentence that begins with "Returns": from there on it
        # is the return value.
        for part in re.split(r"(?<=[.)])\s+(?=(?:It )?[Rr]eturns?\b)", text) if text else []:
            if re.match(r"(It )?[Rr]eturns?\b", part):
                sections.setdefault("RETURN VALUE", []).extend(return_items(part))
            else:
                sections.setdefault("DESCRIPTION", []).append(".PP\n" + part)
        for child in para:
            if child.tag in ("itemizedlist", "orderedlist"):
                for item in child.findall("listitem"):
                    body = " ".join(inline(p) for p in item.findall("para"))
                    sections.setdefault("DESCRIPTION", []).append('.IP "\\(bu" 2\n' + body)
            elif child.tag == "programlisting":
                code = []
                for codeline in child.findall("codeline"):
                    code.append(esc("".join(
                        (" " if e.tag == "sp" else (e.text or "")) + (e.tail or "")
                        for e in codeline.iter() if e is not codeline)))
                sections.setdefault("DESCRIPTION", []).append(
                    ".PP\n.nf\n" + "\n".join(code) + "\n.fi")
            elif child.tag == "simplesect" and child.get("kind") == "return":
                blocks(child, {"DESCRIPTION": sections.setdefault("RETURN VALUE", [])})
            elif child.tag == "parameterlist":
                # @param: a tagged paragraph per parameter; @retval: one per return value,
                # after the @return sentence.
                retval = child.get("kind") == "retval"
                for item in child.findall("parameteritem"):
                    names = ", ".join(inline(n) for n in item.iter("parametername"))
                    desc = item.find("parameterdescription")
                    text = " ".join(inline(p) for p in desc.findall("para")) if desc is not None else ""
                    sections.setdefault("RETURN VALUE" if retval else "PARAMETERS", []).append(
                        ".TP\n.B " + names + "\n" + text if retval else
                        ".TP\n.I " + names + "\n" + text)
    return lines


def summary(name, brief):
    """The brief description for NAME: one line, without the function's name in front."""
    text = re.sub(r"\s+", " ", "".join(brief.itertext())).strip()
    text = re.sub(r"^" + re.escape(name) + r"\b[ :]*", "", text)
    return esc(text[:1].lower() + text[1:] if text[:1].isupper() and text[1:2].islower() else text)


def prototype(m):
    text = lambda e: "".join(e.itertext()) if e is not None else ""
    name = m.findtext("name")
    if m.get("kind") == "define":
        args = ", ".join(p.findtext("defname") for p in m.findall("param"))
        return "#define %s(%s)" % (name, args)
    params = []
    for p in m.findall("param"):
        t, d = text(p.find("type")), p.findtext("declname") or ""
        arr = text(p.find("array"))
        if "(*" in t:  # a function pointer type written whole
            params.append(t)
        else:
            params.append((t + ("" if t.endswith("*") or not d else " ") + d + arr).strip())
    ret = text(m.find("type"))
    return "%s%s%s(%s);" % (ret, "" if ret.endswith("*") else " ", name, ", ".join(params))


def main():
    xml_dir, man_dir, version = sys.argv[1:4]
    os.makedirs(man_dir, exist_ok=True)
    index = ET.parse(os.path.join(xml_dir, "index.xml")).getroot()
    count = 0
    for compound in index.findall("compound[@kind='file']"):
        root = ET.parse(os.path.join(xml_dir, compound.get("refid") + ".xml")).getroot()
        cdef = root.find("compounddef")
        header = cdef.findtext("compoundname")
        for m in cdef.iter("memberdef"):
            kind, name = m.get("kind"), m.findtext("name")
            if kind == "function":
                pass
            elif kind == "define" and m.find("param") is not None and name.islower():
                pass
            else:
                continue
            sections = {}
            brief = " ".join(inline(p) for p in m.find("briefdescription").findall("para"))
            sections["DESCRIPTION"] = [".PP\n" + brief] if brief else []
            blocks(m.find("detaileddescription"), sections)
            page = [
                '.TH "%s" 3 "" "libsmtp %s" "libsmtp"' % (name, version),
                ".SH NAME",
                "%s \\- %s" % (name, summary(name, m.find("briefdescription"))),
                ".SH SYNOPSIS",
                ".nf",
                ".B #include <smtp/%s>" % os.path.basename(cdef.find("location").get("file")),
                ".PP",
                ".B " + esc(prototype(m)),
                ".fi",
            ]
            for title in ("DESCRIPTION", "PARAMETERS", "RETURN VALUE"):
                if sections.get(title):
                    page.append(".SH " + title)
                    page.extend(sections[title])
            page += [".SH SEE ALSO", ".BR %s (3)" % header]
            with open(os.path.join(man_dir, name + ".3"), "w") as f:
                f.write("\n".join(page) + "\n")
            count += 1
    # Doxygen names a header's page after the header alone (client.h.3, common.h.3): too
    # generic for share/man/man3. They become smtp_client.h.3..., and the links follow.
    headers = [c.findtext("name") for c in index.findall("compound[@kind='file']")]
    for h in headers:
        old = os.path.join(man_dir, h + ".3")
        if os.path.exists(old):
            os.replace(old, os.path.join(man_dir, "smtp_" + h + ".3"))
    for page in os.listdir(man_dir):
        path = os.path.join(man_dir, page)
        with open(path) as f:
            text = f.read()
        new = text
        for h in headers:
            new = new.replace(".so man3/%s.3" % h, ".so man3/smtp_%s.3" % h)
            new = new.replace(".BR %s (3)" % h, ".BR smtp_%s (3)" % h)
        if new != text:
            with open(path, "w") as f:
                f.write(new)
    # Doxygen also makes a link page per struct member (calloc.3, len.3, flags.3...): names that
    # belong to other packages' pages (manpages-dev has calloc(3)) and would overwrite them
    # when installed. Only the library's own names stay: smtp_*, SMTP_*.
    dropped = 0
    for page in os.listdir(man_dir):
        if not page.startswith(("smtp_", "SMTP_")):
            os.remove(os.path.join(man_dir, page))
            dropped += 1
    print("man3.py: %d function pages in %s (%d member link pages dropped)" % (count, man_dir, dropped))


if __name__ == "__main__":
    main()
