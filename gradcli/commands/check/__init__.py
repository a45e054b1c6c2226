"""check: the user's own derivative of the user's own function, against torch and fd."""
