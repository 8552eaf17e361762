"""Encryption at rest for files in agent scratch directories.

Envelope encryption: each file gets a fresh 256-bit data key; the body is
AES-256-GCM in 64 KiB chunks; the data key is wrapped (AES-256-GCM) under a
key-encryption key (KEK) from the keyring. Rotating the KEK rewrites one
512-byte key slot per file in place, never the body.

Modules: ``format`` (the byte layout, documented there and in
docs/encryption-format.md), ``envelope`` (wrap/seal, no I/O), ``keys``
(keyring load/save/generate), ``slots`` (header read, slot rewrap), ``files``
(``encrypt_file``/``decrypt_file``, streaming, crash-safe), ``rotation``
(``rotate``/``retire``/``kek_usage``), ``recovery`` (``recover`` after a crash).
"""

from daemon.crypto.files import DECRYPT_STEPS, ENCRYPT_STEPS, decrypt_file, encrypt_file
from daemon.crypto.format import SUFFIX
from daemon.crypto.keys import (
    Keyring,
    add_active_kek,
    generate_keyring,
    load_credential,
    load_keyring,
    save_keyring,
)
from daemon.crypto.recovery import RecoveryReport, recover, recover_tree
from daemon.crypto.rotation import (
    KekUsage,
    RotationReport,
    kek_usage,
    retire,
    rewrap_file,
    rewrap_tree,
    rotate,
)
from scratchwarden.errors import CiphertextError

__all__ = [
    "DECRYPT_STEPS", "ENCRYPT_STEPS", "SUFFIX", "CiphertextError", "KekUsage", "Keyring",
    "RecoveryReport", "RotationReport", "add_active_kek", "decrypt_file", "encrypt_file",
    "generate_keyring", "kek_usage", "load_credential", "load_keyring", "recover",
    "recover_tree", "retire", "rewrap_file", "rewrap_tree", "rotate", "save_keyring",
]
