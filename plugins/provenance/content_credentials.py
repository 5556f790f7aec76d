"""C2PA Content Credentials: a local signing key, signed `c2pa.created` manifests, reading.

On first use a key pair and a two-certificate chain (a local root, and a signing
certificate it issues) are made under <home>/keys/; the root's own key is not kept. Every
manifest states `c2pa.created` with digital source type trainedAlgorithmicMedia (or the
composite type for an edited canvas) and carries Atelier's provenance record. Reading
trusts this computer's root, so a file signed here reads "Trusted", one signed by
another Atelier install "Valid" (intact, signer unknown), a tampered one "Invalid".
Uses c2pa-python (imported only when signing or reading), fully offline.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.file_writing import write_atomic
from engine.home import atelier_home
from engine.untrusted import clean_text, display_path, read_file_bytes
from plugins.provenance.xmp import TRAINED

ASSERTION = "org.atelier.provenance"
MIME = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
}
_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}
# Reading stays offline: no manifest fetched from the URL a file names (a hostile file
# could point it anywhere), no OCSP query about the signer's certificate.
_OFFLINE = {"remote_manifest_fetch": False, "ocsp_fetch": False}
MAX_PEM_BYTES = 1024 * 1024
_key_lock = threading.Lock()


class ContentCredentialsError(RuntimeError):
    """Signing or reading Content Credentials failed (the message says why)."""


@dataclass(frozen=True)
class SigningKeys:
    """The PEM files of this computer's signing identity."""

    chain: Path  # signing certificate, then the root
    key: Path  # the signing certificate's private key (owner-only)
    root: Path  # the root certificate, trusted when reading


def keys_dir(home: Path | None = None) -> Path:
    return (home or atelier_home()) / "keys"


def ensure_keys(home: Path | None = None) -> SigningKeys:
    """This computer's signing key and certificate chain, made on first use."""
    folder = keys_dir(home)
    keys = SigningKeys(
        folder / "c2pa-chain.pem", folder / "c2pa-signer.key", folder / "c2pa-root.pem"
    )
    with _key_lock:
        if not all(p.is_file() for p in (keys.chain, keys.key, keys.root)):
            _make_keys(keys)
    return keys


def _make_keys(keys: SigningKeys) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Atelier (local, self-signed)"),
            ]
        )

    def usage(sign: bool) -> x509.KeyUsage:
        flags = dict.fromkeys(
            ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement"),
            False,
        )
        return x509.KeyUsage(
            digital_signature=sign,
            key_cert_sign=not sign,
            crl_sign=not sign,
            encipher_only=False,
            decipher_only=False,
            **flags,
        )

    now = datetime.datetime.now(datetime.UTC)
    host = socket.gethostname() or "this computer"
    root_key, signer_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )

    def certificate(subject, issuer, public, signing_key, is_ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), True)
            .add_extension(usage(sign=not is_ca), True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
        )
        if not is_ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False
            ).add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
            )
        return builder.sign(signing_key, hashes.SHA256())

    root_name = name(f"Atelier local root ({host})")
    root = certificate(root_name, root_name, root_key.public_key(), root_key, True)
    signer = certificate(
        name(f"Atelier on {host}"), root_name, signer_key.public_key(), root_key, False
    )
    pem = serialization.Encoding.PEM
    keys.chain.parent.mkdir(parents=True, exist_ok=True)
    private = signer_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_atomic(keys.key, private, mode=0o600)  # owner-only from the first byte
    write_atomic(keys.chain, signer.public_bytes(pem) + root.public_bytes(pem))
    write_atomic(keys.root, root.public_bytes(pem))


def manifest_definition(provenance: Mapping[str, Any], title: str) -> dict[str, Any]:
    """The manifest: a `c2pa.created` action with the digital source type, and Atelier's
    provenance record as its own assertion."""
    software = str(provenance.get("software", "Atelier"))
    name, _, version = software.partition(" ")
    action = {
        "action": "c2pa.created",
        "digitalSourceType": provenance.get("digital_source_type", TRAINED),
        "softwareAgent": {"name": name, "version": version or "0"},
    }
    return {
        "claim_generator_info": [{"name": name, "version": version or "0"}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [action]}},
            {"label": ASSERTION, "data": json.loads(json.dumps(provenance, default=str))},
        ],
    }


def sign(
    data: bytes,
    mime: str,
    provenance: Mapping[str, Any],
    title: str = "",
    home: Path | None = None,
) -> bytes:
    """The file with a signed C2PA manifest embedded. Raises ContentCredentialsError."""
    try:
        import c2pa
    except ImportError as exc:
        raise ContentCredentialsError(f"c2pa-python is not installed: {exc}") from exc
    signer = _signer(c2pa, home)
    try:
        context = c2pa.Context(c2pa.Settings.from_dict(_SETTINGS))
        manifest = manifest_definition(provenance, clean_text(title))
        builder = c2pa.Builder(manifest, context=context)
        out = io.BytesIO()
        builder.sign(signer, mime, io.BytesIO(data), out)
        return out.getvalue()
    except Exception as exc:  # a format c2pa cannot embed into, a library failure
        raise ContentCredentialsError(f"Content Credentials could not be signed: {exc}") from exc


def _signer(c2pa: Any, home: Path | None) -> Any:
    """A c2pa signer from this computer's key files (made on first use)."""
    folder = keys_dir(home)
    try:
        keys = ensure_keys(home)
        chain = read_file_bytes(keys.chain, "a certificate chain", MAX_PEM_BYTES)
        key = read_file_bytes(keys.key, "a private key", MAX_PEM_BYTES)
        info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None)
        return c2pa.Signer.from_info(info)
    except Exception as exc:  # missing, a folder, garbage, not ASCII: c2pa says which
        raise ContentCredentialsError(
            f"the signing key in {display_path(folder)} is damaged or unreadable ({exc}); "
            "move that folder away and Atelier makes a new key on the next save"
        ) from exc


def read(data: bytes, mime: str, home: Path | None = None) -> dict[str, Any]:
    """What a file's C2PA manifest says and whether it holds: present, state ("Trusted",
    "Valid", "Invalid"), signer, actions, digital source type, failure codes, and the
    Atelier record. `present` is False when the file has none."""
    try:
        import c2pa
    except ImportError as exc:
        raise ContentCredentialsError(f"c2pa-python is not installed: {exc}") from exc
    settings: dict[str, Any] = {"verify": {"verify_trust": True, **_OFFLINE}}
    anchors = _trusted_root(keys_dir(home) / "c2pa-root.pem")
    if anchors:
        settings["trust"] = {"user_anchors": anchors}
    try:
        context = c2pa.Context(c2pa.Settings.from_dict(settings))
        reader = c2pa.Reader(mime, io.BytesIO(data), context=context)
    except Exception as exc:
        if "ManifestNotFound" in type(exc).__name__ or "no JUMBF" in str(exc):
            return {"present": False}
        if "not found" in str(exc).lower() and "manifest" in str(exc).lower():
            return {"present": False}
        raise ContentCredentialsError(f"the C2PA manifest could not be read: {exc}") from exc
    with reader:
        manifest = reader.get_active_manifest() or {}
        state = reader.get_validation_state() or "Unknown"
        results = reader.get_validation_results() or {}
    return _summary(manifest, state, results)


def _trusted_root(root: Path) -> str | None:
    """This computer's root certificate (PEM text), or None when there is none or it is
    damaged: files signed here then read "Valid" instead of "Trusted"."""
    try:
        return read_file_bytes(root, "a certificate", MAX_PEM_BYTES).decode("ascii")
    except (OSError, ValueError):  # missing, a folder, too large, not ASCII
        return None


def _summary(manifest: dict, state: str, results: dict) -> dict[str, Any]:
    actions, record = [], None
    for assertion in manifest.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            actions += assertion.get("data", {}).get("actions", [])
        elif assertion.get("label") == ASSERTION:
            record = assertion.get("data")
    failures = [
        item.get("code", "")
        for item in (results.get("activeManifest") or {}).get("failure", [])
        if isinstance(item, dict)
    ]
    signature = manifest.get("signature_info") or {}
    return {
        "present": True,
        "state": state,
        "signer": signature.get("common_name") or signature.get("issuer"),
        "claim_generator": [g.get("name") for g in manifest.get("claim_generator_info", [])],
        "actions": [a.get("action") for a in actions],
        "digital_source_type": next(
            (a["digitalSourceType"] for a in actions if a.get("digitalSourceType")), None
        ),
        "failures": failures,
        "atelier": record,
    }


def mime_for(path: str | os.PathLike[str]) -> str | None:
    """The MIME type c2pa needs for a file, by its suffix."""
    return MIME.get(Path(path).suffix.lower())
