package org.xenhost.driver.job;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DomainJobsTest {
    private final DomainJobs jobs = new DomainJobs(Duration.ofMillis(100), Clock.systemUTC());

    @Test
    void secondModifyJobOnSameDomainIsRefusedNamingTheHolder() throws Exception {
        try (Job save = jobs.begin("uuid-a", "vm-a", JobKind.SAVE)) {
            save.phase("streaming memory");
            BusyException busy = assertThrows(BusyException.class, () -> jobs.begin("uuid-a", "vm-a", JobKind.DESTROY));
            assertEquals(JobKind.SAVE, busy.holder());
            assertTrue(busy.getMessage().contains("busy: domain 'vm-a' is running save since "), busy.getMessage());
            assertTrue(busy.getMessage().contains("destroy"), busy.getMessage());
        }
        // released: the next job gets the slot
        try (Job destroy = jobs.begin("uuid-a", "vm-a", JobKind.DESTROY)) {
            assertEquals(JobKind.DESTROY, jobs.current("uuid-a").orElseThrow().kind());
        }
        assertTrue(jobs.current("uuid-a").isEmpty());
    }

    @Test
    void jobsOnDifferentDomainsRunTogether() throws Exception {
        CountDownLatch bothIn = new CountDownLatch(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<Boolean> a = pool.submit(() -> holdUntilBoth("uuid-a", bothIn));
            Future<Boolean> b = pool.submit(() -> holdUntilBoth("uuid-b", bothIn));
            // each job only finishes once the other has started: a shared lock would deadlock here
            assertTrue(a.get(10, TimeUnit.SECONDS));
            assertTrue(b.get(10, TimeUnit.SECONDS));
        } finally {
            pool.shutdownNow();
        }
    }

    private Boolean holdUntilBoth(String key, CountDownLatch bothIn) throws Exception {
        try (Job j = jobs.begin(key, key, JobKind.START)) {
            bothIn.countDown();
            return bothIn.await(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void queryNeverWaitsForAModifyJob() throws Exception {
        try (Job j = jobs.begin("uuid-a", "vm-a", JobKind.MIGRATE_OUT)) {
            j.phase("perform");
            JobSnapshot s = jobs.current("uuid-a").orElseThrow().snapshot();
            assertEquals("perform", s.phase());
            assertFalse(s.abortable());
        }
    }

    @Test
    void waitingRequestGetsTheSlotWhenItIsReleasedInTime() throws Exception {
        DomainJobs patient = new DomainJobs(Duration.ofSeconds(10), Clock.systemUTC());
        Job first = patient.begin("uuid-a", "vm-a", JobKind.PAUSE);
        Thread releaser = new Thread(() -> {
            try {
                Thread.sleep(50);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
            first.close();
        });
        releaser.start();
        try (Job second = patient.begin("uuid-a", "vm-a", JobKind.RESUME)) {
            assertEquals(JobKind.RESUME, second.kind());
        }
        releaser.join();
    }

    @Test
    void abortRunsTheInstalledHandlerAndAnEarlyAbortIsNotLost() throws Exception {
        try (Job j = jobs.begin("uuid-a", "vm-a", JobKind.MIGRATE_OUT)) {
            assertFalse(j.abort(), "no handler yet");
            int[] calls = {0};
            j.onAbort(() -> calls[0]++);
            assertEquals(1, calls[0], "an abort requested before the handler existed runs it at once");
            assertTrue(j.abort());
            assertEquals(2, calls[0]);
        }
    }
}
