package org.xenhost.transport;

import java.util.List;

/**
 * Who the authenticated peer is, as its certificate says.
 *
 * @param subject the certificate subject in RFC 2253 form, e.g. {@code CN=host-b,O=xenhost}
 * @param dnsNames DNS subject alternative names
 * @param ipAddresses IP subject alternative names, in canonical text form
 */
public record PeerIdentity(String subject, List<String> dnsNames, List<String> ipAddresses) {
    public PeerIdentity {
        dnsNames = List.copyOf(dnsNames);
        ipAddresses = List.copyOf(ipAddresses);
    }
}
