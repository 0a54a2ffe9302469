"""The ActivityPub protocol library of fedisora.

Pure protocol code: vocabulary, JSON-LD with bundled contexts, HTTP signatures,
WebFinger/NodeInfo, integrity proofs and the delivery client.  It never imports
a database, a web framework or anything from ``fedisora``.
"""
