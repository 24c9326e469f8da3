-- One database per service (docker-compose.yml). The postgres image runs this once, when its data
-- volume is empty; the role (POSTGRES_USER) owns both.
CREATE DATABASE shop;
CREATE DATABASE notifications;
