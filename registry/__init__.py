"""Who opted out and what their work looks like: the registry store, works and style index.

Modules (imported explicitly, so that importing the package stays cheap):
``store`` (RegistryStore), ``validation`` (work checks), ``works`` (content-addressed
files), ``style_index`` (FAISS StyleIndex), ``ingest`` (transactional add/remove/rebuild),
``models`` (value objects). This package never imports ``stylegate.governance`` or
``stylegate.generator``: the embedding function is passed in.
"""
