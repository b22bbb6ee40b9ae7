"""The data layer: catalog and call models, snapshots, import, search and the rebuild schedule."""
