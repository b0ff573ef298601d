"""Catalog service: products and their tiers, firms, lawyers, reviews, articles and search."""
