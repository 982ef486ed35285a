-- Schema and a few users for the 12factor app.
-- Safe to load again and again: the table is created only when missing, and
-- the users have fixed ids, so a second load updates them instead of adding copies.
CREATE TABLE IF NOT EXISTS users (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username VARCHAR(64) NOT NULL UNIQUE,
    email VARCHAR(255) NOT NULL
) DEFAULT CHARSET = utf8mb4;

INSERT INTO users (id, username, email) VALUES
    (1, 'ada', 'ada@example.com'),
    (2, 'grace', 'grace@example.com'),
    (3, 'linus', 'linus@example.com'),
    (4, 'margaret', 'margaret@example.com')
ON DUPLICATE KEY UPDATE username = VALUES(username), email = VALUES(email);
