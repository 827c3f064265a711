"""Above the stages: the quickstart, which runs data preparation, training and deploy in turn.

It drives the stages through the `sea` command line and reads them only through their
artifacts' manifests, so it sits above them and the torch-free core `sea` never imports it.
"""
