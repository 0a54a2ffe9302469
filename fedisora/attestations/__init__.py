"""Attestations: W3C Verifiable Credentials 2.0 with eddsa-jcs-2022 proofs, in the fedisora vocabulary.

- :mod:`.vocabulary`: the terms, the bundled JSON-LD context, enums
- :mod:`.credentials`: the four credentials as plain dicts (pure)
- :mod:`.statuslist`: our Bitstring Status Lists (the pure encoding is :mod:`activitypub.statuslist`)
- :mod:`.service`: issue, revoke, list (DB rows, the audit log)
- :mod:`.documents`: actor attachments and media provenance for ``Document`` attachments

See docs/ATTESTATIONS.md.
"""
