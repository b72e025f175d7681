"""Built-in price sources (placeholder until the price-source work lands)."""
