-- Runs once, when the PostgreSQL volume is first initialised: one database per
-- service so that their tables (which share names) never meet.
CREATE DATABASE fastapi;
CREATE DATABASE django;
CREATE DATABASE flask;
