"""The estate model: how each kind of object is made, linked, changed and deleted, shared by the services,
the generator and evolution."""
