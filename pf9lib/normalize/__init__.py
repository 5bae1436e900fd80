"""pf9lib.normalize"""
