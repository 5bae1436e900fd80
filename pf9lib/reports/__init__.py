"""pf9lib.reports"""
