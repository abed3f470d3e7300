"""Local models and files that metrics and adapters need, found offline and never downloaded.

Modules:

- :mod:`~evalkit.assets.wordnet`: WordNet for METEOR, from local dictionary files.
- :mod:`~evalkit.assets.encoders`: local encoder models (BERTScore, embeddings) and
  :class:`~evalkit.assets.encoders.SentenceEncoder`.
- :mod:`~evalkit.assets.image_features`: the image metrics' feature extractors.
- :mod:`~evalkit.assets._inception`: the FID variant of Inception-v3, in plain torch.

No metric is registered here; the registered users are ``meteor`` (WordNet), ``bertscore``,
``embedding_diversity`` and the ``dense`` adapter (encoders), and ``fid``, ``kid`` and
``inception_score`` (image features).

Conventions of the family: nothing is ever downloaded; a missing model or file is an
:class:`~evalkit.errors.AssetError` that says how to provide it. Models are identified in
signatures by the SHA-256 of their weights, not by where the files are.
"""
