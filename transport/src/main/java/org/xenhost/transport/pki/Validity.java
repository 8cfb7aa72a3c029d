package org.xenhost.transport.pki;

import java.time.Duration;
import java.time.Instant;

/**
 * The validity window of a certificate to issue.
 *
 * @param notBefore first instant the certificate is valid
 * @param notAfter  last instant the certificate is valid
 */
public record Validity(Instant notBefore, Instant notAfter) {
    public Validity {
        if (!notAfter.isAfter(notBefore)) {
            throw new IllegalArgumentException("certificate validity must end after it starts: " + notBefore + " .. " + notAfter);
        }
    }

    /** {@return a window starting an hour ago (clock skew between hosts) and lasting the given days} */
    public static Validity days(long days) {
        if (days < 1 || days > 36500) {
            throw new IllegalArgumentException("validity in days must be between 1 and 36500, got " + days);
        }
        Instant now = Instant.now();
        return new Validity(now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(days)));
    }
}
