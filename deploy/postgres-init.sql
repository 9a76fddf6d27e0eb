-- Warden's system of record lives beside Temporal's databases, in its own
-- database and role.
CREATE ROLE warden LOGIN PASSWORD 'warden';
CREATE DATABASE warden OWNER warden;
