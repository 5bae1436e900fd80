"""pf9lib.collect"""
