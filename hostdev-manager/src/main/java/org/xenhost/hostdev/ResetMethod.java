package org.xenhost.hostdev;

/** How a device can be reset between owners, in order of preference. */
public enum ResetMethod {
    /** Function Level Reset: resets only this function. */
    FLR,
    /** Power-management reset: D3hot → D0 when the function does not keep its state (NoSoftRst clear). */
    PM,
    /** Secondary bus reset through the parent bridge: resets everything behind that bridge. */
    BUS,
    /** No safe reset exists. */
    NONE
}
