"""Service-to-service authentication for Django with Keycloak's client credentials flow."""
