"""pf9lib.analytics"""
