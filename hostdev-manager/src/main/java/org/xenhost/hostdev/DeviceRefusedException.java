package org.xenhost.hostdev;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A request xenhost refuses before touching anything, naming each device and the reason. It is an
 * {@link IllegalArgumentException} because the request, not the host, is at fault (the CLI exits 2).
 */
public final class DeviceRefusedException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final transient List<Refusal> refusals;

    public DeviceRefusedException(String operation, List<Refusal> refusals) {
        super(operation + " refused: " + refusals.stream().map(Refusal::toString).collect(Collectors.joining("; ")));
        this.refusals = List.copyOf(refusals);
    }

    /** Every refusal, in device order. */
    public List<Refusal> refusals() {
        return refusals;
    }
}
