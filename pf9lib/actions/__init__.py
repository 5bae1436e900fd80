"""pf9lib.actions"""
