#!/usr/bin/env python3
"""Generates the SAML fixtures of crates/federation/testdata/saml.

The signer is Debian's xmlsec1 (package `xmlsec1`), an implementation
independent of Mayfly's verifier: a verifier test passes only when two
canonicalizers and two XML-DSig implementations agree. Keys come from openssl
and are thrown away after the run; only certificates, metadata and signed
responses are committed. Rerun after changing this file:

    python3 crates/testkit/saml/generate.py

Times are fixed: unit fixtures are valid from 2025-12-31T23:59:00Z to
2026-01-01T00:05:00Z (tests pass `now` inside that window); the e2e
fixtures stay valid until 2100 so the real server can take them as they are.

Attack variants are cut from the signed documents with plain string edits,
so each one still carries a signature that is mathematically valid over the
original element: only the verifier's placement rules reject them.
"""

import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(ROOT, "../../federation/testdata/saml"))

ISSUER = "https://idp.example.test/"
ACCOUNT = "000000000000"
PROVIDER = "MayflyTestIdP"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SamlRole"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:saml-provider/{PROVIDER}"
AWS = "https://signin.aws.amazon.com/saml"

NS = (
    'xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
    'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)

RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def signature_template(reference_id, method=RSA_SHA256, digest=SHA256, prefixes=None):
    inclusive = ""
    if prefixes is not None:
        inclusive = (
            '<ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" '
            f'PrefixList="{prefixes}"/>'
        )
    return (
        '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        f'<ds:SignatureMethod Algorithm="{method}"/>'
        f'<ds:Reference URI="#{reference_id}"><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        f'<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">{inclusive}</ds:Transform>'
        f'</ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue>'
        '</ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>'
        '<ds:KeyInfo><ds:X509Data></ds:X509Data></ds:KeyInfo></ds:Signature>'
    )


def attribute(name, *values):
    rendered = "".join(
        f'<saml:AttributeValue xsi:type="xs:string">{value}</saml:AttributeValue>' for value in values
    )
    return f'<saml:Attribute Name="{name}">{rendered}</saml:Attribute>'


def assertion(
    assertion_id="_a1",
    signature="",
    name_id="alice@example.test",
    audience=AWS,
    recipient=AWS,
    issuer=ISSUER,
    not_before="2025-12-31T23:59:00Z",
    not_on_or_after="2026-01-01T00:05:00Z",
    session_not_on_or_after="2026-01-01T08:00:00Z",
    role=f"{ROLE},{PROVIDER_ARN}",
    extra_attributes="",
):
    session = f' SessionNotOnOrAfter="{session_not_on_or_after}"' if session_not_on_or_after else ""
    return (
        f'<saml:Assertion ID="{assertion_id}" Version="2.0" IssueInstant="2026-01-01T00:00:00Z">'
        f"<saml:Issuer>{issuer}</saml:Issuer>{signature}"
        "<saml:Subject>"
        f'<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{name_id}</saml:NameID>'
        '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData NotOnOrAfter="{not_on_or_after}" Recipient="{recipient}"/>'
        "</saml:SubjectConfirmation></saml:Subject>"
        f'<saml:Conditions NotBefore="{not_before}" NotOnOrAfter="{not_on_or_after}">'
        f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>"
        "</saml:Conditions>"
        f'<saml:AuthnStatement AuthnInstant="2026-01-01T00:00:00Z" SessionIndex="_s1"{session}>'
        "<saml:AuthnContext><saml:AuthnContextClassRef>"
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
        "<saml:AttributeStatement>"
        + attribute("https://aws.amazon.com/SAML/Attributes/Role", role)
        + attribute("https://aws.amazon.com/SAML/Attributes/RoleSessionName", "alice")
        + attribute("https://aws.amazon.com/SAML/Attributes/SessionDuration", "1800")
        + attribute("https://aws.amazon.com/SAML/Attributes/PrincipalTag:Department", "Engineering")
        + attribute("urn:oid:1.3.6.1.4.1.5923.1.1.1.1", "member", "staff")
        + extra_attributes
        + "</saml:AttributeStatement></saml:Assertion>"
    )


def response(body, signature="", response_id="_r1", status="urn:oasis:names:tc:SAML:2.0:status:Success",
             destination=AWS, extensions=""):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<samlp:Response {NS} ID="{response_id}" Version="2.0" '
        f'IssueInstant="2026-01-01T00:00:00Z" Destination="{destination}">'
        f"<saml:Issuer>{ISSUER}</saml:Issuer>{signature}{extensions}"
        f'<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>'
        f"{body}</samlp:Response>\n"
    )


class Signer:
    def __init__(self, workdir):
        self.workdir = workdir
        self.keys = {}
        self.certs = {}

    def make_rsa(self, name):
        key = os.path.join(self.workdir, f"{name}.key")
        run("openssl", "genrsa", "-out", key, "2048")
        self._cert(name, key)

    def make_ec(self, name):
        key = os.path.join(self.workdir, f"{name}.key")
        run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
        self._cert(name, key)

    def _cert(self, name, key):
        cert = os.path.join(self.workdir, f"{name}.crt")
        run("openssl", "req", "-x509", "-new", "-key", key, "-subj", f"/CN=Mayfly test {name}",
            "-days", "36500", "-sha256", "-out", cert)
        self.keys[name] = key
        self.certs[name] = cert

    def cert_base64(self, name):
        with open(self.certs[name]) as handle:
            lines = [line.strip() for line in handle if "-----" not in line]
        return "".join(lines)

    def sign(self, xml, key_name, xpath=None, extra_ids=()):
        source = os.path.join(self.workdir, "template.xml")
        target = os.path.join(self.workdir, "signed.xml")
        with open(source, "w") as handle:
            handle.write(xml)
        args = [
            "xmlsec1", "--sign",
            "--privkey-pem", f"{self.keys[key_name]},{self.certs[key_name]}",
            "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
            "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        ]
        for element in extra_ids:
            args += ["--id-attr:ID", element]
        if xpath:
            args += ["--node-xpath", xpath]
        args += ["--output", target, source]
        run(*args)
        with open(target) as handle:
            return handle.read()


def extract(document, pattern):
    match = re.search(pattern, document, re.S)
    if not match:
        sys.exit(f"pattern not found: {pattern}")
    return match.group(0)


SIG_RE = r"<ds:Signature .*?</ds:Signature>"
ASSERTION_RE = r"<saml:Assertion .*?</saml:Assertion>"


def without_signature(element):
    return re.sub(SIG_RE, "", element, count=1, flags=re.S)


def evil(element, new_id):
    """The attacker's copy: another subject and a fresh ID."""
    element = element.replace("alice@example.test", "admin@example.test")
    return re.sub(r'ID="[^"]*"', f'ID="{new_id}"', element, count=1)


def write(name, text):
    with open(os.path.join(OUT, name), "w") as handle:
        handle.write(text)


def metadata(signer, entity_id=ISSUER):
    def key_descriptor(use, cert):
        use_attribute = f' use="{use}"' if use else ""
        return (
            f'<md:KeyDescriptor{use_attribute}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            f"{signer.cert_base64(cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        )

    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">\n'
        '  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">\n'
        f"    {key_descriptor('signing', 'idp-rsa')}\n"
        f"    {key_descriptor(None, 'idp-ec')}\n"
        f"    {key_descriptor('encryption', 'idp-encryption')}\n"
        '    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\n'
        '    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        'Location="https://idp.example.test/sso"/>\n'
        "  </md:IDPSSODescriptor>\n"
        "</md:EntityDescriptor>\n"
    )


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        signer = Signer(workdir)
        signer.make_rsa("idp-rsa")
        signer.make_ec("idp-ec")
        signer.make_rsa("idp-encryption")
        signer.make_rsa("attacker")
        write("metadata.xml", metadata(signer))
        for name in ("idp-rsa", "idp-ec", "attacker"):
            with open(signer.certs[name]) as handle:
                write(f"{name}.crt", handle.read())

        def response_signed(body=None, key="idp-rsa", method=RSA_SHA256, digest=SHA256, **kwargs):
            body = body if body is not None else assertion()
            template = response(body, signature=signature_template("_r1", method, digest), **kwargs)
            return signer.sign(template, key)

        def assertion_signed(key="idp-rsa", prefixes=None, **kwargs):
            body = assertion(signature=signature_template("_a1", prefixes=prefixes), **kwargs)
            return signer.sign(response(body), key)

        good_response = response_signed()
        good_assertion = assertion_signed()
        write("response-signed.xml", good_response)
        write("assertion-signed.xml", good_assertion)
        write("assertion-signed-prefix-list.xml", assertion_signed(prefixes="xs"))
        both = response(assertion(signature=signature_template("_a1")), signature=signature_template("_r1"))
        both = signer.sign(both, "idp-rsa",
                           xpath="//*[local-name()='Assertion']/*[local-name()='Signature']")
        both = signer.sign(both, "idp-rsa",
                           xpath="/*[local-name()='Response']/*[local-name()='Signature']")
        write("both-signed.xml", both)
        write("ecdsa-sha256.xml", response_signed(key="idp-ec", method=ECDSA_SHA256))
        write("rsa-sha512.xml", response_signed(method=RSA_SHA512, digest=SHA512))
        write("rsa-sha1.xml", response_signed(method=RSA_SHA1, digest=SHA1))
        write("sha1-digest.xml", response_signed(digest=SHA1))
        write("comment-in-name-id.xml",
              response_signed(assertion(name_id="alice@example.test<!-- x -->.evil.test")))
        write("wrong-audience.xml", response_signed(assertion(audience="https://other.example.test/")))
        write("wrong-recipient.xml", response_signed(assertion(recipient="https://other.example.test/acs")))
        write("wrong-destination.xml", response_signed(destination="https://other.example.test/acs"))
        write("wrong-issuer.xml", response_signed(assertion(issuer="https://other-idp.example.test/")))
        write("status-requester.xml",
              response_signed(status="urn:oasis:names:tc:SAML:2.0:status:Requester"))
        write("second-assertion.xml", response_signed(assertion() + assertion(assertion_id="_a2")))
        write("signed-by-attacker.xml", response_signed(key="attacker"))
        write("signed-by-encryption-key.xml", response_signed(key="idp-encryption"))
        write("bad-session-name.xml", response_signed(assertion(extra_attributes="").replace(
            ">alice</saml:AttributeValue>", ">a</saml:AttributeValue>")))
        # Canonicalization corner cases: escapes, CR, tabs in attributes, a
        # default namespace and its undeclaration, attribute order across
        # namespaces, xml:lang, a comment and a processing instruction.
        stress = (
            '<saml:Attribute Name="urn:mayfly:stress" z:b="2" a="1" xmlns:z="urn:z" xml:lang="en">'
            '<saml:AttributeValue xsi:type="xs:string">a &amp; b &lt; c &gt; d "q" \'s\' &#13; &#x9;</saml:AttributeValue>'
            '<saml:AttributeValue><x:detail xmlns:x="urn:x" xmlns="urn:default" t="&#9;&#10;&#13;&quot;&lt;&amp;">'
            '<inner xmlns=""><!-- kept out --><?pi data?></inner><empty/></x:detail></saml:AttributeValue>'
            "</saml:Attribute>"
        )
        write("c14n-corner-cases.xml", response_signed(assertion(extra_attributes=stress)))
        write("provider-first-role.xml", response_signed(assertion(role=f"{PROVIDER_ARN},{ROLE}")))
        write("unsigned.xml", response(assertion()))
        write("tampered.xml", good_response.replace("alice@example.test", "admin@example.test"))
        # A genuine signature, but over an Extensions element rather than
        # the Response or the Assertion that carries the claims.
        extensions = '<samlp:Extensions ID="_ext1"><saml:Issuer>' + ISSUER + "</saml:Issuer></samlp:Extensions>"
        other = response(assertion(), signature=signature_template("_ext1"), extensions=extensions)
        write("signature-over-other-element.xml",
              signer.sign(other, "idp-rsa", extra_ids=["urn:oasis:names:tc:SAML:2.0:protocol:Extensions"]))

        write_wrapping_attacks(good_response, good_assertion)

        # End to end: valid until 2100, so the running server needs no clock games.
        long_lived = dict(not_on_or_after="2100-01-01T00:00:00Z", session_not_on_or_after=None)
        write("e2e-response.xml", response_signed(assertion(**long_lived)))
        write("e2e-response-second.xml",
              response_signed(assertion(assertion_id="_a_e2e_2", **long_lived), response_id="_r1"))
        write("e2e-expired.xml", response_signed())
    print(f"wrote {OUT}")


def write_wrapping_attacks(good_response, good_assertion):
    """XSW1-XSW8 after Somorovsky et al., 'On Breaking SAML' (2012)."""
    # Response-signature variants.
    signature = extract(good_response, SIG_RE)
    signed_response = without_signature(good_response.split("\n", 1)[1].strip())
    evil_response = evil(without_signature(good_response), "_evil_r")
    evil_response = re.sub(r'(<saml:Assertion ID=")_a1', r"\1_evil_a", evil_response)
    # XSW1: evil Response as root, the original signed Response inside its Signature.
    xsw1_signature = signature.replace("</ds:Signature>", signed_response.replace('ID="_a1"', 'ID="_a1c"') + "</ds:Signature>")
    write("xsw1.xml", evil_response.replace("</saml:Issuer>", "</saml:Issuer>" + xsw1_signature, 1))
    # XSW2: the original Response as a sibling before the (detached) Signature.
    xsw2 = signed_response.replace('ID="_a1"', 'ID="_a1c"') + signature
    write("xsw2.xml", evil_response.replace("</saml:Issuer>", "</saml:Issuer>" + xsw2, 1))

    # Assertion-signature variants.
    original = extract(good_assertion, ASSERTION_RE)
    assertion_signature = extract(original, SIG_RE)
    evil_assertion = evil(without_signature(original), "_evil_a")
    bare_original = without_signature(original)

    def replace_assertion(new):
        return good_assertion.replace(original, new)

    # XSW3: evil Assertion before the original signed one.
    write("xsw3.xml", replace_assertion(evil_assertion + original))
    # XSW4: the original signed Assertion inside the evil one.
    write("xsw4.xml", replace_assertion(evil_assertion.replace("</saml:Assertion>", original + "</saml:Assertion>")))
    # XSW5: evil Assertion carries the signature, the unsigned original appended.
    evil_with_signature = evil_assertion.replace("</saml:Issuer>", "</saml:Issuer>" + assertion_signature, 1)
    write("xsw5.xml", replace_assertion(evil_with_signature + bare_original))
    # XSW6: evil Assertion carries the signature, which holds the original.
    holding = assertion_signature.replace("</ds:Signature>", bare_original + "</ds:Signature>")
    write("xsw6.xml", replace_assertion(evil_assertion.replace("</saml:Issuer>", "</saml:Issuer>" + holding, 1)))
    # XSW7: the original signed Assertion hidden in Extensions, the evil one in its place.
    hidden = '<samlp:Extensions>' + original + "</samlp:Extensions>"
    xsw7 = replace_assertion(evil_assertion).replace("<samlp:Status>", hidden + "<samlp:Status>", 1)
    write("xsw7.xml", xsw7)
    # XSW8: evil Assertion's signature holds the original inside ds:Object.
    in_object = assertion_signature.replace(
        "</ds:Signature>", "<ds:Object>" + bare_original + "</ds:Object></ds:Signature>")
    write("xsw8.xml", replace_assertion(evil_assertion.replace("</saml:Issuer>", "</saml:Issuer>" + in_object, 1)))


if __name__ == "__main__":
    main()
