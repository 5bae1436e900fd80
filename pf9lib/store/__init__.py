"""pf9lib.store"""
