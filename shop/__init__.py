"""The shop: customers log in through Keycloak and place orders."""
