/**
 * JMH benchmarks and the scripts that compare them against baselines measured in the same run.
 */
package org.xenhost.jmh;
